// Wires the services and the bot from the ports. Used by the app and by the handler-level
// tests, so both run exactly the same graph.
import { AccessPackagesBot } from './bot/accessPackagesBot';
import { CardRenderer } from './bot/cards';
import { SelfServiceActions } from './bot/selfServiceActions';
import type { Clock } from './clock';
import type { Directory } from './directory/port';
import type { Logger } from './logger';
import { AccessService } from './services/access';
import { CatalogBrowser } from './services/catalogBrowser';
import type { ServiceDependencies } from './services/deps';
import { RequestService } from './services/requests';
import { TaskWorkflow } from './services/workflow';
import type { Repositories } from './store/repositories';

export interface BotGraph {
  bot: AccessPackagesBot;
  services: ServiceDependencies;
}

export function buildBot(input: { repositories: Repositories; directory: Directory; clock: Clock; logger: Logger }): BotGraph {
  const { repositories, directory, clock, logger } = input;
  const cards = new CardRenderer();
  const services: ServiceDependencies = { repositories, directory, clock, workflow: new TaskWorkflow(repositories.tasks) };
  const selfService = new SelfServiceActions(
    { browser: new CatalogBrowser(services), requests: new RequestService(services), access: new AccessService(services) },
    cards,
    clock,
  );
  const bot = new AccessPackagesBot({ cards, conversationReferences: repositories.conversationReferences, selfService, clock, logger });
  return { bot, services };
}
