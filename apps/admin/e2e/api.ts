/**
 * Calls the real server's tRPC API over HTTP, as any client would, to set up data the browser
 * tests then look at. Queries go as POST too (the server allows the override): inputs with
 * vectors do not fit in a URL.
 */
export async function callApi<T = unknown>(
  baseUrl: string,
  path: string,
  input: unknown,
  options: { apiKey?: string } = {},
): Promise<T> {
  const response = await fetch(`${baseUrl}/trpc/${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
    },
    body: JSON.stringify(input),
  });
  const body = (await response.json()) as
    { result: { data: T } } | { error: { message: string; data?: { quarryCode?: string } } };
  if ('error' in body) {
    throw new Error(`${path} answered ${response.status}: ${body.error.message}`);
  }
  return body.result.data;
}

/** Creates (or recreates) a collection whose documents bring their own vectors. */
export async function createSuppliedVectorCollection(
  baseUrl: string,
  name: string,
  dimensions: number,
): Promise<void> {
  await callApi(baseUrl, 'collections.delete', { name, confirm: name }).catch(() => undefined);
  await callApi(baseUrl, 'collections.create', {
    name,
    dimensions,
    metric: 'cosine',
    // No provider on the server has this name: each document must arrive with its vector.
    embeddingModel: `supplied-${dimensions}`,
  });
}
