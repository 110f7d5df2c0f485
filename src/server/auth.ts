/**
 * Bearer-token check. Both sides are hashed with SHA-256 before `timingSafeEqual`, so the
 * comparison takes the same time whatever the token's length or how many leading bytes match.
 */
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/** A checker for `Authorization` header values; accepts only `Bearer <token>`. */
export function bearerChecker(token: string): (header: string | undefined) => boolean {
  const expected = digest(token);
  return (header) => {
    const m = /^Bearer +(\S+) *$/i.exec(header ?? "");
    // Hash something even when the header is malformed: equal work either way.
    const given = digest(m?.[1] ?? "");
    return timingSafeEqual(given, expected) && m !== null;
  };
}
