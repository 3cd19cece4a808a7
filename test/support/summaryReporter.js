// Prints the plain closing line CI reads ("N passed, N failed"), plus notes on suites that
// were deliberately not run (so nobody mistakes "not run" for "passed").
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + (results.numRuntimeErrorTestSuites || 0);
    const store = (process.env.TEST_STORE || (process.env.MONGODB_URI ? 'mongodb' : 'embedded')).trim().toLowerCase();
    if (store !== 'mongodb') {
      console.log('note: this run used the embedded store; the MongoDB half of the store contract suite was not run here (MONGODB_URI or TEST_STORE=mongodb runs it; .ci/run does, on the MongoDB wire double)');
    }
    console.log(`${results.numPassedTests} passed, ${failed} failed`);
  }
}
module.exports = SummaryReporter;
