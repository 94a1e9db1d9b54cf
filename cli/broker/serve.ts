/** `docklock broker serve`: start the daemon and stop cleanly on SIGINT/SIGTERM. */
import { loadBrokerConfig, startBroker } from '../../broker/index.ts';

/**
 * Runs the broker until a termination signal.
 * @param configPath - path to broker.yaml
 */
export async function serveCommand(configPath: string): Promise<void> {
  const broker = await startBroker(loadBrokerConfig(configPath));
  const r = broker.reconcile;
  process.stderr.write(
    `docklock broker: listening on ${broker.socket} (Docker API ${broker.apiVersion}); reconcile adopted ${r.adopted.length}, removed ${r.removed.length} containers and ${r.networksRemoved.length} networks\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await broker.close();
}
