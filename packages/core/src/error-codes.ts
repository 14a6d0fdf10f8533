// Owns: every stable error code conncheck emits, for check items and for the HTTP API, with a hint each.
// Must not: depend on drivers or Node networking; mapping driver errors to these codes lives in packages/probes.

/**
 * Codes a check item can end with. Stable strings: clients branch on them.
 * Each code names one cause with one fix; never fold two causes that need different fixes.
 */
export const ItemErrorCode = {
  DNS_RESOLUTION_FAILED: 'DNS_RESOLUTION_FAILED',
  CONNECTION_REFUSED: 'CONNECTION_REFUSED',
  CONNECTION_TIMEOUT: 'CONNECTION_TIMEOUT',
  CONNECTION_RESET: 'CONNECTION_RESET',
  HOST_UNREACHABLE: 'HOST_UNREACHABLE',
  TLS_HANDSHAKE_FAILED: 'TLS_HANDSHAKE_FAILED',
  TLS_NOT_SUPPORTED: 'TLS_NOT_SUPPORTED',
  TLS_REQUIRED: 'TLS_REQUIRED',
  TLS_CERT_UNTRUSTED: 'TLS_CERT_UNTRUSTED',
  TLS_HOSTNAME_MISMATCH: 'TLS_HOSTNAME_MISMATCH',
  TLS_CERT_EXPIRED: 'TLS_CERT_EXPIRED',
  TLS_CLIENT_CERT_REQUIRED: 'TLS_CLIENT_CERT_REQUIRED',
  TLS_CLIENT_CERT_REJECTED: 'TLS_CLIENT_CERT_REJECTED',
  AUTH_FAILED: 'AUTH_FAILED',
  AUTH_METHOD_UNSUPPORTED: 'AUTH_METHOD_UNSUPPORTED',
  ACCESS_DENIED_FROM_HOST: 'ACCESS_DENIED_FROM_HOST',
  DATABASE_NOT_FOUND: 'DATABASE_NOT_FOUND',
  DATABASE_ACCESS_DENIED: 'DATABASE_ACCESS_DENIED',
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  SERVER_UNAVAILABLE: 'SERVER_UNAVAILABLE',
  SASL_MECHANISM_UNSUPPORTED: 'SASL_MECHANISM_UNSUPPORTED',
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  SERVER_VERSION_UNSUPPORTED: 'SERVER_VERSION_UNSUPPORTED',
  REPLICA_MEMBER_UNREACHABLE: 'REPLICA_MEMBER_UNREACHABLE',
  REPLICA_MEMBER_FORBIDDEN: 'REPLICA_MEMBER_FORBIDDEN',
  BROKER_UNREACHABLE: 'BROKER_UNREACHABLE',
  BROKER_FORBIDDEN: 'BROKER_FORBIDDEN',
  SECURITY_PROTOCOL_MISMATCH: 'SECURITY_PROTOCOL_MISMATCH',
  TIMEOUT: 'TIMEOUT',
  TARGET_FORBIDDEN: 'TARGET_FORBIDDEN',
  CANCELED: 'CANCELED',
  CREDENTIALS_UNAVAILABLE: 'CREDENTIALS_UNAVAILABLE',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;
export type ItemErrorCode = (typeof ItemErrorCode)[keyof typeof ItemErrorCode];

/** One line a user can act on, per item code. docs/errors.md carries the same list (a test compares them). */
export const itemErrorHints: Record<ItemErrorCode, string> = {
  DNS_RESOLUTION_FAILED:
    'The host name does not resolve from the worker. Check the spelling, and that the worker uses the DNS (or /etc/hosts) that knows the name.',
  CONNECTION_REFUSED:
    'The address answered but nothing listens on that port (or a firewall rejects it). Check the port and that the server is started and listens on that interface.',
  CONNECTION_TIMEOUT:
    "The TCP connection was never answered before the deadline: usually a firewall or security group that drops packets, or a wrong address. Open the port to the worker's address.",
  CONNECTION_RESET:
    'The server (or something in between) closed the connection before the handshake finished. Check server-side limits, proxies, and whether the port speaks the expected protocol.',
  HOST_UNREACHABLE:
    'The worker has no route to that address. Check the address, the VPC/VPN routing and that the worker runs in a network zone that can reach it.',
  TLS_HANDSHAKE_FAILED: 'TLS could not be negotiated (protocol or cipher mismatch, or the server aborted). error_msg gives the reason from the TLS layer.',
  TLS_NOT_SUPPORTED:
    'TLS was requested but the server does not offer it. Enable TLS on the server or set ssl_link to false (Kafka: the listener is PLAINTEXT or SASL_PLAINTEXT; set kafka_security_config.type to match).',
  TLS_REQUIRED:
    'The server only accepts this user over TLS. Set ssl_link to true (and give the CA certificate). Kafka: the listener is SSL or SASL_SSL; set kafka_security_config.type to match.',
  TLS_CERT_UNTRUSTED:
    'The server certificate is not signed by the CA given in ssl_cert_key (without one: by any CA in the system store), or is self-signed. Upload the CA that issued the server certificate, not the server certificate itself.',
  TLS_HOSTNAME_MISMATCH: 'The server certificate does not name the host you connect to. Connect by a name in the certificate, or use ssl_mode verify-ca.',
  TLS_CERT_EXPIRED: 'The server certificate (or one in its chain) has expired or is not yet valid. Renew it on the server.',
  TLS_CLIENT_CERT_REQUIRED:
    'The server requires a client certificate (mutual TLS) and none was given. Kafka: set enable_key_store with key_store_key and its passwords.',
  TLS_CLIENT_CERT_REJECTED:
    'The server refused the client certificate given: it must be signed by a CA the server trusts, be valid today, and be meant for client authentication.',
  AUTH_FAILED:
    'The server rejected the user name or password. Check db_user and db_password (MongoDB: and db_name, the authentication database the user is defined in; default admin).',
  AUTH_METHOD_UNSUPPORTED: "The server asked for an authentication method the checker cannot perform. Change the user's authentication plugin or method.",
  ACCESS_DENIED_FROM_HOST:
    "The server refuses this user from the worker's address (MySQL host grants, PostgreSQL pg_hba.conf). Allow the worker's address for this user.",
  DATABASE_NOT_FOUND: 'Authentication worked but the database in db_name does not exist. Check db_name.',
  DATABASE_ACCESS_DENIED:
    'Authentication worked but the user may not use the database in db_name (MySQL: no grant on it; PostgreSQL: no CONNECT privilege). Grant access, or check db_name: MySQL gives this same answer for a database that does not exist when the user has no global privileges.',
  TOO_MANY_CONNECTIONS: 'The server refused the connection because it has too many. Raise its connection limit or close idle sessions.',
  SERVER_UNAVAILABLE: 'The server answered but is not accepting sessions (starting up, shutting down, in recovery). Retry once it is up.',
  SASL_MECHANISM_UNSUPPORTED: 'The broker does not enable the SASL mechanism requested. Use one the listener enables.',
  PROTOCOL_ERROR: 'Something answered on that port, but it does not speak the expected protocol. Check that the port belongs to the database type you chose.',
  SERVER_VERSION_UNSUPPORTED:
    "The server speaks the protocol but is older than the checker's driver supports (MongoDB: 3.6 or newer). error_msg names the version the server reports; upgrade the server or check it with db_type tcp.",
  REPLICA_MEMBER_UNREACHABLE:
    'The server answered, but a replica-set member it advertises (its host name in the replica-set configuration) cannot be resolved or reached from the worker. Clients that connect to the replica set use those names: fix the member host names (rs.conf) or DNS/routing so the worker reaches every member.',
  REPLICA_MEMBER_FORBIDDEN:
    'The server answered, but a replica-set member it advertises resolves to an address this conncheck deployment may not connect to (CONNCHECK_TARGET_ALLOW / CONNCHECK_TARGET_DENY). Fix the member host names in the replica-set configuration, or allow that range.',
  BROKER_UNREACHABLE:
    'The bootstrap server answered, but a broker advertises an address (advertised.listeners) the worker cannot resolve or reach; error_msg names the broker and the address. Kafka clients connect to the advertised addresses after bootstrapping: set advertised.listeners of that listener to an address clients can reach, or open the route to it.',
  BROKER_FORBIDDEN:
    'The bootstrap server answered, but a broker advertises an address this conncheck deployment may not connect to (CONNCHECK_TARGET_ALLOW / CONNCHECK_TARGET_DENY). Fix advertised.listeners on the broker, or allow that range.',
  SECURITY_PROTOCOL_MISMATCH:
    "The listener does not use the security protocol requested in kafka_security_config.type: it has no SASL while the request uses SASL, or it requires SASL while the request does not. Set type to the listener's protocol (listener.security.protocol.map on the broker), or use the port of the listener you meant.",
  TIMEOUT:
    'The connection was open but the server did not finish the handshake before the deadline. The server may be overloaded or the port may belong to another service; raise timeout_ms if it is just slow.',
  TARGET_FORBIDDEN: 'The target resolves to an address that this conncheck deployment may not connect to (CONNCHECK_TARGET_ALLOW / CONNCHECK_TARGET_DENY).',
  CANCELED: 'The check was canceled before this item finished.',
  CREDENTIALS_UNAVAILABLE:
    "The worker could not decrypt this item's credentials: API and worker run with different CONNCHECK_SECRET_KEY values, or the process that generated the key restarted. Give every process the same key and resubmit.",
  INTERNAL_ERROR: 'A fault in conncheck itself, not in the target. Retry; if it persists, report it with the check_id.',
};

/** Codes of HTTP error bodies `{ error_code, error_msg }`. */
export const ApiErrorCode = {
  INVALID_PARAMETER: 'CC.INVALID_PARAMETER',
  UNKNOWN_FIELD: 'CC.UNKNOWN_FIELD',
  MISSING_FIELD: 'CC.MISSING_FIELD',
  UNSUPPORTED_DB_TYPE: 'CC.UNSUPPORTED_DB_TYPE',
  UNSUPPORTED_SASL_MECHANISM: 'CC.UNSUPPORTED_SASL_MECHANISM',
  CERT_NOT_BASE64: 'CC.CERT_NOT_BASE64',
  CERT_CHECKSUM_MISMATCH: 'CC.CERT_CHECKSUM_MISMATCH',
  CERT_UNREADABLE: 'CC.CERT_UNREADABLE',
  CERT_PASSWORD_WRONG: 'CC.CERT_PASSWORD_WRONG',
  INVALID_JSON: 'CC.INVALID_JSON',
  UNSUPPORTED_MEDIA_TYPE: 'CC.UNSUPPORTED_MEDIA_TYPE',
  TOO_MANY_ITEMS: 'CC.TOO_MANY_ITEMS',
  PAYLOAD_TOO_LARGE: 'CC.PAYLOAD_TOO_LARGE',
  INVALID_CURSOR: 'CC.INVALID_CURSOR',
  UNAUTHORIZED: 'CC.UNAUTHORIZED',
  FORBIDDEN: 'CC.FORBIDDEN',
  NOT_FOUND: 'CC.NOT_FOUND',
  ROUTE_NOT_FOUND: 'CC.ROUTE_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'CC.METHOD_NOT_ALLOWED',
  BAD_REQUEST: 'CC.BAD_REQUEST',
  BAD_URL: 'CC.BAD_URL',
  URI_TOO_LONG: 'CC.URI_TOO_LONG',
  HEADERS_TOO_LARGE: 'CC.HEADERS_TOO_LARGE',
  REQUEST_TIMEOUT: 'CC.REQUEST_TIMEOUT',
  ALREADY_FINISHED: 'CC.ALREADY_FINISHED',
  IDEMPOTENCY_KEY_REUSED: 'CC.IDEMPOTENCY_KEY_REUSED',
  NAME_TAKEN: 'CC.NAME_TAKEN',
  RATE_LIMITED: 'CC.RATE_LIMITED',
  POOL_NOT_SERVED: 'CC.POOL_NOT_SERVED',
  CHECK_NOT_FINISHED: 'CC.CHECK_NOT_FINISHED',
  SERVICE_UNAVAILABLE: 'CC.SERVICE_UNAVAILABLE',
  INTERNAL_ERROR: 'CC.INTERNAL_ERROR',
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

/**
 * The API gateway's own codes, used on the gateway routes (backend connectivity check, VPC channels) so that clients
 * of the original keep working: the original's bodies and codes for the same conditions.
 */
export const ApigErrorCode = {
  BAD_TOKEN: 'APIG.1002',
  NO_PERMISSION: 'APIG.1005',
  PARAMETER_REQUIRED: 'APIG.2001',
  INVALID_PARAMETER: 'APIG.2012',
  CHANNEL_NOT_FOUND: 'APIG.3023',
  INSTANCE_NOT_FOUND: 'APIG.3030',
  CHANNEL_NAME_TAKEN: 'APIG.3208',
  SYSTEM_ERROR: 'APIG.9999',
} as const;
export type ApigErrorCode = (typeof ApigErrorCode)[keyof typeof ApigErrorCode];

/** What an error answer says besides its code and message. */
export interface ApiErrorDetails {
  /** The task the request created: sent as `check_id` in the body and as X-Check-Id and Location headers. */
  checkId?: string;
  project?: string;
  /** Seconds, as the Retry-After header. */
  retryAfter?: number;
}

/** An error the API turns into `{ error_code, error_msg }` with `statusCode`. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorCode: ApiErrorCode | ApigErrorCode,
    message: string,
    readonly details: ApiErrorDetails = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
