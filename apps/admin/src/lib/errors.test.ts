import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { explainError, needsApiKey } from './errors';

function apiError(
  code: string,
  httpStatus: number,
  quarryCode?: string,
  fieldErrors?: Record<string, string[]>,
) {
  return TRPCClientError.from({
    error: {
      message: `${code} happened`,
      code: -32600,
      data: {
        code,
        httpStatus,
        path: 'search.query',
        quarryCode,
        zodError: fieldErrors ? { formErrors: [], fieldErrors } : null,
      },
    },
  });
}

describe('explaining API errors', () => {
  it('tells a person without a key to enter one', () => {
    const error = apiError('UNAUTHORIZED', 401, 'UNAUTHORIZED');
    expect(explainError(error).hint).toMatch(/enter one under "API key"/);
    expect(needsApiKey(error)).toBe(true);
  });

  it("prefers Quarry's own code to the transport code", () => {
    expect(explainError(apiError('NOT_FOUND', 404, 'COLLECTION_NOT_FOUND')).code).toBe(
      'COLLECTION_NOT_FOUND',
    );
  });

  it('keeps the field errors of rejected input', () => {
    const explained = explainError(
      apiError('BAD_REQUEST', 400, 'INVALID_INPUT', { k: ['Too big'] }),
    );
    expect(explained.fieldErrors).toEqual({ k: ['Too big'] });
  });

  it('says the server is unreachable when no API answered', () => {
    const error = TRPCClientError.from(new TypeError('Failed to fetch'));
    expect(explainError(error).hint).toMatch(/could not reach the Quarry API/);
    expect(needsApiKey(error)).toBe(false);
  });
});
