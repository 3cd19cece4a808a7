// Prints the plain closing line CI reads ("N passed, N failed"), plus notes on suites that
// were deliberately not run (so nobody mistakes "not run" for "passed").
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + (results.numRuntimeErrorTestSuites || 0);
    if (!process.env.MONGODB_URI) {
      console.log('note: MongoDB contract suite not run (set MONGODB_URI to run it against a real server)');
    }
    console.log(`${results.numPassedTests} passed, ${failed} failed`);
  }
}
module.exports = SummaryReporter;
