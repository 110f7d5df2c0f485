/** Module-resolution hook (see load-trace.ts): reports each resolved URL on stderr. */
type Resolved = { url: string };
type NextResolve = (specifier: string, context: unknown) => Promise<Resolved>;

export async function resolve(specifier: string, context: unknown, next: NextResolve): Promise<Resolved> {
  const r = await next(specifier, context);
  process.stderr.write(`LOADED ${r.url}\n`);
  return r;
}
