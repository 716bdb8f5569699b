const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const prefixPattern = /^[0-9a-f-]{4,36}$/i;

export type ResolvedId = { ok: true; id: string } | { ok: false; problem: string };

/**
 * The document a typed id means: a whole uuid as is, or the short id the results show (its first
 * characters), looked up among the documents this page has on screen.
 */
export function resolveDocumentId(typed: string, shown: Iterable<string>): ResolvedId {
  const text = typed.trim().toLowerCase();
  if (uuidPattern.test(text)) return { ok: true, id: text };
  if (!prefixPattern.test(text))
    return {
      ok: false,
      problem: 'a document id is a uuid, or the first characters of one as the results show it',
    };
  const matches = [...new Set(shown)].filter((id) => id.toLowerCase().startsWith(text));
  if (matches.length === 1 && matches[0]) return { ok: true, id: matches[0] };
  if (matches.length > 1)
    return {
      ok: false,
      problem: `${matches.length} documents shown here start with ${text}: type more of it`,
    };
  return {
    ok: false,
    problem: `no document shown here starts with ${text}: paste its whole id (its page shows it)`,
  };
}
