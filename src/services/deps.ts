import type { Clock } from '../clock';
import type { Directory } from '../directory/port';
import type { Repositories } from '../store/repositories';
import type { Workflow } from './workflow';

export interface ServiceDependencies {
  repositories: Repositories;
  directory: Directory;
  clock: Clock;
  workflow: Workflow;
}
