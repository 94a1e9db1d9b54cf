/**
 * A hostile validator against a real broker on its Unix socket and the real engine with gVisor:
 * each case is a hole an audit found, checked through the public API and on what Docker made.
 */
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { BrokerClient } from '../../broker/client.ts';
import { bridgeNetworkName } from '../../broker/labels.ts';
import { TEST_IMAGE, brokerSuite, dockerReady, sharedBroker } from './helpers.ts';

const ready = dockerReady();

/** Polls a service's output until `done` matches it (the service decides when it has answered). */
async function outputOf(client: BrokerClient, name: string, done: RegExp): Promise<string> {
  for (;;) {
    const { stdout } = await client.logs(name);
    if (done.test(stdout)) return stdout;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(!ready)('a hostile client against the broker', () => {
  const suite = brokerSuite();
  const broker = sharedBroker(suite);
  const { alice, bob } = suite.p;
  const client = (token: string) => new BrokerClient({ socketPath: broker().socket, token });
  const engine = new Docker({ socketPath: '/var/run/docker.sock' });

  it("cannot reach another owner's bridge service on its unpublished port", async () => {
    const a = client(alice.token);
    const b = client(bob.token);
    const server = await a.deploy({
      name: 'srv',
      image: TEST_IMAGE,
      network: 'bridge',
      command: ['sh', '-c', 'while true; do echo owner-only | nc -l -p 8080; done'],
    });
    const info = await engine.getContainer(server.id).inspect();
    const net = bridgeNetworkName(broker().config.instance, alice.name);
    expect(info.HostConfig.NetworkMode).toBe(net);
    const ip = info.NetworkSettings.Networks[net]!.IPAddress;
    // The owner's own second service on the bridge reaches it: the network is shared within an owner.
    await a.deploy({
      name: 'peer',
      image: TEST_IMAGE,
      network: 'bridge',
      command: ['sh', '-c', `until echo | nc -w 2 ${ip} 8080; do sleep 0.5; done; echo rc=0; sleep 300`],
    });
    expect(await outputOf(a, 'peer', /rc=0/)).toContain('owner-only');
    // Another owner's bridge service does not, though the server answers.
    await b.deploy({
      name: 'probe',
      image: TEST_IMAGE,
      network: 'bridge',
      command: ['sh', '-c', `echo | nc -w 3 ${ip} 8080; echo rc=$?; sleep 300`],
    });
    const probe = await outputOf(b, 'probe', /rc=\d+/);
    expect(probe).not.toContain('owner-only');
    expect(probe).toMatch(/rc=1/);
    // The owner's bridge network goes away with its last service.
    await a.remove('srv');
    await a.remove('peer');
    await b.remove('probe');
    expect((await engine.listNetworks({ filters: { name: [net] } })).filter((n) => n.Name === net)).toEqual([]);
  });
});
