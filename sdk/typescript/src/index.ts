/**
 * TypeScript client of the children's programmes suite.
 *
 * The messages and service descriptors generated from the contracts in `proto/` live under
 * `gen/` (`gen/edu/competitions/v1/contest_pb.js`, …); `createClient` of `@connectrpc/connect`
 * takes a service descriptor and a transport. This module adds what every caller needs:
 *
 * - `createGatewayTransport` makes a gRPC transport (HTTP/2, Node) to the suite's gateway
 *   whose calls carry the bearer token and, in development, the clock header `x-edu-clock`;
 * - `refusal` and `errorReason` read the `google.rpc` details the suite sends with every
 *   error: the stable reason of `ErrorInfo` (domain `edu.suite`), the fields of `BadRequest`
 *   and the Russian `LocalizedMessage`.
 */

import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

import {
  BadRequestSchema,
  ErrorInfoSchema,
  LocalizedMessageSchema,
} from "./gen/google/rpc/error_details_pb.js";

/** The gateway of a local suite (`cargo suite up`). */
export const LOCAL_GATEWAY = "http://127.0.0.1:50051";

/**
 * Asks a development-mode suite to judge a call at another instant (RFC 3339, e.g.
 * `2025-01-31T23:59:00+03:00`); production ignores it.
 */
export const CLOCK_HEADER = "x-edu-clock";

/** The domain of every `google.rpc.ErrorInfo` the suite sends. */
export const ERROR_DOMAIN = "edu.suite";

/** How to reach the gateway and what every call carries. */
export interface GatewayOptions {
  /**
   * `http://host:port` (plaintext), `https://host:port` (TLS) or `host:port` (plaintext);
   * by default `$EDU_GATEWAY`, else the local suite.
   */
  baseUrl?: string;
  /** Every call carries `authorization: Bearer <token>`. */
  token?: string;
  /** Every call carries `x-edu-clock: <clock>` (development only). */
  clock?: string;
  /** For TLS: the certificate authority (PEM) to trust instead of Node's roots. */
  ca?: string | Buffer;
  /** More interceptors, run after the one that adds the headers. */
  interceptors?: Interceptor[];
}

/**
 * An interceptor that adds the token and the clock to every call that does not set the
 * header itself (so `{ headers: { [CLOCK_HEADER]: … } }` on one call wins).
 */
export function callHeaders(token?: string, clock?: string): Interceptor {
  return (next) => async (request) => {
    if (token && !request.header.has("authorization")) {
      request.header.set("authorization", `Bearer ${token.trim()}`);
    }
    if (clock && !request.header.has(CLOCK_HEADER)) {
      request.header.set(CLOCK_HEADER, clock);
    }
    return next(request);
  };
}

/** A gRPC transport (HTTP/2) to the gateway; pass it to `createClient`. */
export function createGatewayTransport(options: GatewayOptions = {}): Transport {
  let baseUrl = options.baseUrl ?? process.env.EDU_GATEWAY ?? LOCAL_GATEWAY;
  if (!baseUrl.includes("://")) {
    baseUrl = `http://${baseUrl}`;
  }
  return createGrpcTransport({
    baseUrl,
    interceptors: [callHeaders(options.token, options.clock), ...(options.interceptors ?? [])],
    nodeOptions: options.ca === undefined ? undefined : { ca: options.ca },
  });
}

/** Why the suite refused a call, read from the `google.rpc` details of its status. */
export interface Refusal {
  /** The gRPC code. */
  code: Code;
  /** The code's name (`FailedPrecondition`, `AlreadyExists`, …). */
  codeName: string;
  /** The status message (English, for logs). */
  message: string;
  /**
   * `ErrorInfo.reason`: the stable, machine-readable reason (`ALREADY_EXISTS`,
   * `DEADLINE_PASSED`, `INVALID_FIELDS`, `TOKEN_MISSING`, …); undefined when the error
   * carries no `ErrorInfo` (a transport failure, or a status from elsewhere).
   */
  reason?: string;
  /** `ErrorInfo.domain`: `ERROR_DOMAIN` for the suite's own refusals. */
  domain?: string;
  /** `ErrorInfo.metadata`. */
  metadata: Record<string, string>;
  /** `BadRequest`: each offending field of a malformed request and what is wrong with it. */
  fields: Array<[field: string, description: string]>;
  /** `LocalizedMessage` (Russian, `ru-RU`): text an operator can be shown as is. */
  localized?: string;
}

/** Reads the refusal out of what a failed call threw. */
export function refusal(error: unknown): Refusal {
  const e = ConnectError.from(error);
  const [info] = e.findDetails(ErrorInfoSchema);
  const [bad] = e.findDetails(BadRequestSchema);
  const [text] = e.findDetails(LocalizedMessageSchema);
  return {
    code: e.code,
    codeName: Code[e.code] ?? String(e.code),
    message: e.rawMessage,
    reason: info?.reason,
    domain: info?.domain,
    metadata: { ...(info?.metadata ?? {}) },
    fields: (bad?.fieldViolations ?? []).map((v) => [v.field, v.description]),
    localized: text?.message,
  };
}

/** The stable reason of a refusal (`ErrorInfo.reason`), if the error carries one. */
export function errorReason(error: unknown): string | undefined {
  return refusal(error).reason;
}

/** One line: code, reason, fields, and the Russian text (else the message). */
export function describeRefusal(r: Refusal): string {
  const fields = r.fields.map(([field, what]) => ` [${field}: ${what}]`).join("");
  return `${r.codeName} ${r.reason ?? "(no reason)"}${fields}: ${r.localized ?? r.message}`;
}
