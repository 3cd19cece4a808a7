import type { Clock } from '../../clock';
import type { DocumentStore } from '../port';
import { ensureSchema, recordIndexes, type SchemaOptions } from '../schema';
import { AssignmentRepository } from './assignments';
import { AuditRepository } from './audit';
import { CatalogRepository } from './catalogs';
import { ExportRepository } from './exports';
import { ConversationReferenceRepository } from './conversationReferences';
import { GrantRepository } from './grants';
import { PackageRepository } from './packages';
import { PersonClaimRepository } from './personClaims';
import { PolicyRepository } from './policies';
import { RequestRepository } from './requests';
import { SentCardRepository } from './sentCards';
import { SettingsRepository } from './settings';
import { TaskRepository } from './tasks';

export interface Repositories {
  catalogs: CatalogRepository;
  packages: PackageRepository;
  policies: PolicyRepository;
  requests: RequestRepository;
  assignments: AssignmentRepository;
  grants: GrantRepository;
  tasks: TaskRepository;
  conversationReferences: ConversationReferenceRepository;
  audit: AuditRepository;
  sentCards: SentCardRepository;
  settings: SettingsRepository;
  exports: ExportRepository;
  /** Per-person claims serialising what can give one person access (separation of duties). */
  personClaims: PersonClaimRepository;
}

/**
 * Builds every repository on one store and brings the database to their layout: the indexes
 * they declare in init() are collected, compared with the database's and only what differs is
 * made (schema.ts); start-up refuses, with the command to run, what is unsafe to do there.
 */
export async function openRepositories(given: DocumentStore, clock: Clock, schema: SchemaOptions = {}): Promise<Repositories> {
  const recorder = recordIndexes(given);
  const store = recorder.store;
  const now = () => clock.now();
  const audit = new AuditRepository(store, now);
  const packages = new PackageRepository(store, audit, now);
  const repositories: Repositories = {
    catalogs: new CatalogRepository(store, audit),
    packages,
    policies: new PolicyRepository(store, packages, audit),
    requests: new RequestRepository(store, audit),
    assignments: new AssignmentRepository(store, audit),
    grants: new GrantRepository(store, now),
    tasks: new TaskRepository(store, now),
    conversationReferences: new ConversationReferenceRepository(store, now),
    audit,
    sentCards: new SentCardRepository(store, now),
    settings: new SettingsRepository(store, now),
    exports: new ExportRepository(store),
    personClaims: new PersonClaimRepository(store, now),
  };
  for (const repository of Object.values(repositories)) await repository.init();
  await ensureSchema(given, recorder.finish(), { now, ...schema });
  return repositories;
}
