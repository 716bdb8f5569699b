import { describe, expect, it } from 'vitest';
import { resolveDocumentId } from './resolve-id';

const shown = ['3f2a9c1e-0000-4000-8000-000000000001', '3f2b0000-0000-4000-8000-000000000002'];

describe('resolveDocumentId', () => {
  it('takes a whole uuid as it is, shown or not', () => {
    const other = 'aaaaaaaa-0000-4000-8000-000000000009';
    expect(resolveDocumentId(` ${other} `, shown)).toEqual({ ok: true, id: other });
  });

  it('finds the shown document a short id starts', () => {
    expect(resolveDocumentId('3f2a9c1e', shown)).toEqual({ ok: true, id: shown[0] });
    expect(resolveDocumentId('3F2B', shown)).toEqual({ ok: true, id: shown[1] });
  });

  it('asks for more when a short id is ambiguous, and says when nothing shown matches', () => {
    expect(resolveDocumentId('3f2', shown)).toMatchObject({ ok: false });
    expect(resolveDocumentId('3f2a', [...shown, '3f2a0000-0000-4000-8000-000000000003'])).toEqual({
      ok: false,
      problem: '2 documents shown here start with 3f2a: type more of it',
    });
    expect(resolveDocumentId('beef', shown)).toMatchObject({
      ok: false,
      problem: expect.stringContaining('no document shown here starts with beef'),
    });
  });

  it('refuses what cannot be an id', () => {
    expect(resolveDocumentId('document seven', shown)).toMatchObject({ ok: false });
  });
});
