// Runs the event store contract on the PostgreSQL adapter, each test in a schema of its own.
import { PostgresEventStore } from '../../../core/store/postgres.js';
import { eventStoreContract } from './contract.js';
import { dropSchema, requirePostgres, storeUrl, testSchema } from './postgres-fixture.js';

describe('postgres', () => {
  requirePostgres();
  let schema = '';
  eventStoreContract(
    'postgres',
    async () => {
      schema = testSchema();
      return PostgresEventStore.open(storeUrl(schema));
    },
    () => dropSchema(schema),
  );
});
