import { DCLinter } from 'dclint';
import { DockerfileParser } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';

/**
 * The checks CI can make of the Docker files without a Docker engine: the compose file against the
 * Compose specification's JSON schema and dclint's rules, the Dockerfile with dockerfile-utils (the
 * linter behind the VS Code Docker language server) and the image rules below.
 */
export interface Problem {
  line: number;
  rule: string;
  message: string;
}

/**
 * dclint's rules that only ask for an order (of services, of a service's keys, of its
 * dependencies): docker-compose.yml keeps each service's keys and the services in the order
 * they start, with comments between them.
 */
const orderOnlyRules = [
  'services-alphabetical-order',
  'service-keys-order',
  'service-dependencies-alphabetical-order',
] as const;

/**
 * dclint on one compose file: YAML syntax, the Compose specification's JSON schema (dclint ships
 * the current one; it cannot be turned off) and every rule but the order-only ones: explicit
 * image tags, ports bound to an interface, no duplicate published ports or container names, ...
 */
export function lintComposeFile(path: string): Problem[] {
  const linter = new DCLinter({
    rules: Object.fromEntries(orderOnlyRules.map((rule) => [rule, 0])),
    quiet: true,
    debug: false,
    exclude: [],
  });
  return linter
    .lintFiles([path], false)
    .flatMap((result) => result.messages)
    .map(({ line, rule, message }) => ({ line, rule, message }));
}

const root = new Set(['root', '0']);

/**
 * dockerfile-utils' validation (syntax, flags, durations, ports, signals, ...; every warning
 * counts) and the rules an image of Quarry's must follow:
 * - `pinned-base-image`: each base image names a tag other than `latest`, or a digest;
 * - `non-root-user`: the final stage switches to a user other than root;
 * - `no-remote-add`: nothing is fetched by ADD from a URL (unchecked, uncached: RUN or COPY);
 * - `healthcheck`: the final stage has a HEALTHCHECK, so `depends_on: service_healthy` and
 *   `docker ps` know when the server is ready.
 */
export function lintDockerfile(content: string): Problem[] {
  const problems: Problem[] = validate(content).map((diagnostic) => ({
    line: diagnostic.range.start.line + 1,
    rule: 'dockerfile-utils',
    message: typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value,
  }));
  const dockerfile = DockerfileParser.parse(content);
  const lineOf = (instruction: { getRange(): { start: { line: number } } }) =>
    instruction.getRange().start.line + 1;

  const froms = dockerfile.getFROMs();
  const stages = new Set<string>();
  for (const from of froms) {
    const image = from.getImageName() ?? '';
    const tag = from.getImageTag();
    if (
      !stages.has(image) &&
      from.getImageDigest() === null &&
      (tag === null || tag === 'latest')
    ) {
      problems.push({
        line: lineOf(from),
        rule: 'pinned-base-image',
        message: `base image '${from.getImage() ?? ''}' names no version: pin a tag such as node:20-slim`,
      });
    }
    const stage = from.getBuildStage();
    if (stage !== null) stages.add(stage);
  }

  const finalFrom = froms.at(-1);
  const finalStageStart = finalFrom === undefined ? Infinity : lineOf(finalFrom);
  const finalStage = dockerfile
    .getInstructions()
    .filter((instruction) => lineOf(instruction) >= finalStageStart);

  const lastUser = finalStage.filter((instruction) => instruction.getKeyword() === 'USER').at(-1);
  const user = lastUser?.getArguments()[0]?.getValue().split(':')[0];
  if (user === undefined || root.has(user)) {
    problems.push({
      line: lastUser === undefined ? finalStageStart : lineOf(lastUser),
      rule: 'non-root-user',
      message:
        'the final stage runs as root: add USER with an unprivileged user (node:20-slim has `node`)',
    });
  }

  for (const add of dockerfile.getInstructions()) {
    if (add.getKeyword() !== 'ADD') continue;
    for (const argument of add.getArguments()) {
      if (/^(https?|git|ssh):\/\/|^git@/.test(argument.getValue())) {
        problems.push({
          line: lineOf(add),
          rule: 'no-remote-add',
          message: `ADD fetches ${argument.getValue()}: download it in a RUN step and check it, or COPY it`,
        });
      }
    }
  }

  const healthcheck = dockerfile
    .getHEALTHCHECKs()
    .filter((instruction) => lineOf(instruction) >= finalStageStart)
    .at(-1);
  if (
    healthcheck === undefined ||
    healthcheck.getSubcommand()?.getValue().toUpperCase() === 'NONE'
  ) {
    problems.push({
      line: healthcheck === undefined ? finalStageStart : lineOf(healthcheck),
      rule: 'healthcheck',
      message: 'the final stage has no HEALTHCHECK: probe /readyz',
    });
  }
  return problems;
}
