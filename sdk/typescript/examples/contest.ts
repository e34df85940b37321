/**
 * The SDK example: as a competitions organiser, drafts a contest through the gateway, reads it
 * back, tries to open it after its deadline under the development clock (refused,
 * `DEADLINE_PASSED`), opens it before the deadline, and creates it a second time (refused,
 * `ALREADY_EXISTS`). Prints each step; exits non-zero when anything is not as expected.
 *
 *     export EDU_GATEWAY=127.0.0.1:50051
 *     export EDU_TOKEN=$(cargo suite token --role competitions.organiser --subject me)
 *     npm run build -w sdk/typescript && node sdk/typescript/dist/examples/contest.js
 */

import { randomUUID } from "node:crypto";

import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";

import {
  ContestSchema,
  ContestService,
  ContestState,
  NominationSchema,
} from "../src/gen/edu/competitions/v1/contest_pb.js";
import { TeamLevel } from "../src/gen/edu/competitions/v1/team_pb.js";
import { DateSchema } from "../src/gen/google/type/date_pb.js";
import {
  CLOCK_HEADER,
  LOCAL_GATEWAY,
  createGatewayTransport,
  describeRefusal,
  refusal,
} from "../src/index.js";

// The development clock of the example: ten days before the draft's deadline, and five after.
const BEFORE_DEADLINE = "2030-01-21T10:00:00+03:00";
const AFTER_DEADLINE = "2030-02-05T10:00:00+03:00";
const TIMEOUT_MS = 10_000;

class Unexpected extends Error {}

/** Checks that `call()` is refused with `reason` and says so. */
async function expectRefusal(what: string, call: () => Promise<unknown>, reason: string) {
  try {
    await call();
  } catch (error) {
    const refused = refusal(error);
    if (refused.reason !== reason) {
      throw new Unexpected(`${what}: ${describeRefusal(refused)}, expected ${reason}`);
    }
    console.log(`${what}: refused, reason ${reason} (${describeRefusal(refused)})`);
    return;
  }
  throw new Unexpected(`${what}: succeeded, expected ${reason}`);
}

async function run(gateway: string, token: string): Promise<void> {
  // One transport; every call carries the token and the development clock.
  const transport = createGatewayTransport({ baseUrl: gateway, token, clock: BEFORE_DEADLINE });
  const contests = createClient(ContestService, transport);

  const contestId = `sdk-typescript-${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const draft = create(ContestSchema, {
    title: "Конкурс практик: пример TypeScript SDK",
    organiser: "Пример клиента",
    timeZone: "Europe/Moscow",
    applicationDeadline: create(DateSchema, { year: 2030, month: 1, day: 31 }),
    resultsDue: create(DateSchema, { year: 2030, month: 3, day: 22 }),
    nominations: [create(NominationSchema, { id: "health", title: "Здоровьесбережение с детства" })],
    eligibleLevels: [TeamLevel.REGIONAL],
  });
  const createDraft = () =>
    contests.createContest(
      { contest: draft, contestId, requestId: randomUUID() },
      { timeoutMs: TIMEOUT_MS },
    );

  const created = await createDraft();
  console.log(`created ${created.name} (${ContestState[created.state]})`);

  const read = await contests.getContest({ name: created.name }, { timeoutMs: TIMEOUT_MS });
  if (read.state !== ContestState.DRAFT || read.title !== draft.title) {
    throw new Unexpected(`read back ${ContestState[read.state]} ${JSON.stringify(read.title)}`);
  }
  const deadline = read.applicationDeadlineTime
    ? timestampDate(read.applicationDeadlineTime).toISOString()
    : "";
  console.log(
    `read ${read.name}: ${JSON.stringify(read.title)}, ${ContestState[read.state]}, deadline ${deadline}`,
  );

  // The clock of this one call is after the deadline: the contest cannot open.
  const open = { name: read.name, etag: read.etag };
  await expectRefusal(
    "OpenContest after the deadline",
    () =>
      contests.openContest(open, {
        timeoutMs: TIMEOUT_MS,
        headers: { [CLOCK_HEADER]: AFTER_DEADLINE },
      }),
    "DEADLINE_PASSED",
  );

  const opened = await contests.openContest(open, { timeoutMs: TIMEOUT_MS });
  if (opened.state !== ContestState.OPEN) {
    throw new Unexpected(`opened as ${ContestState[opened.state]}`);
  }
  console.log(`opened ${opened.name} (${ContestState[opened.state]})`);

  // The same ID with another request ID is a second contest, which cannot be.
  await expectRefusal("CreateContest with the same ID", createDraft, "ALREADY_EXISTS");
  console.log("typescript example: ok");
}

async function main(): Promise<number> {
  const token = process.env.EDU_TOKEN;
  if (!token) {
    console.error(
      "set EDU_TOKEN to a token of the role competitions.organiser, e.g. " +
        "$(cargo suite token --role competitions.organiser --subject me)",
    );
    return 2;
  }
  const gateway = process.env.EDU_GATEWAY || LOCAL_GATEWAY;
  try {
    await run(gateway, token);
    return 0;
  } catch (error) {
    const why = error instanceof Unexpected ? error.message : describeRefusal(refusal(error));
    console.error(`contest example failed: ${why}`);
    return 1;
  }
}

process.exitCode = await main();
