import { MongoClient } from 'mongodb';
import { mongoUnavailable, startMongoTarget, uniqueDbName } from '../support/mongoWire';

// The support every MongoDB-mode test uses: it must really start (or name) a server the
// official driver talks to.
const unavailable = mongoUnavailable();
if (unavailable) console.info(unavailable);

(unavailable ? describe.skip : describe)('MongoDB test target', () => {
  it.each([[{}], [{ replicaSet: 'rs0' }]])('answers the driver (%j): insert, then find what was inserted', async (options) => {
    const target = await startMongoTarget(options);
    const client = new MongoClient(target.uri, { serverSelectionTimeoutMS: 5000 });
    try {
      const collection = client.db(uniqueDbName('support')).collection<{ _id: string; n: number }>('probe');
      await collection.insertOne({ _id: 'a', n: 1 });
      expect(await collection.findOne({ _id: 'a' })).toEqual({ _id: 'a', n: 1 });
      expect(target.label).toBe(process.env.MONGODB_URI ? 'MongoDB' : 'MongoDB wire double');
    } finally {
      await client.close();
      await target.stop();
    }
  });
});
