import { describe, expect, it } from 'vitest';
import { firstPage, nextPage, previousPage } from './browse-pages';
import { browseStateSchema, defaultBrowseState, MAX_BACK } from './document-state';

const first = defaultBrowseState;
const filtered = { ...first, filter: { key: 'party', op: 'eq' as const, value: 'Whig' } };

describe('paging the document browser', () => {
  it('has no page before the first', () => {
    expect(previousPage(first)).toBeUndefined();
  });

  it('goes from the second page back to the first, which has no cursor', () => {
    const second = nextPage(filtered, 'c2');
    expect(second).toMatchObject({ cursor: 'c2', page: 2, back: undefined });
    expect(previousPage(second)).toEqual(firstPage(filtered));
    expect(previousPage(second)).toMatchObject({
      cursor: undefined,
      page: 1,
      filter: filtered.filter,
    });
  });

  it('goes back through each page it came by, in order', () => {
    const fourth = nextPage(nextPage(nextPage(first, 'c2'), 'c3'), 'c4');
    expect(fourth).toMatchObject({ cursor: 'c4', page: 4, back: ['c2', 'c3'] });
    const third = previousPage(fourth)!;
    expect(third).toMatchObject({ cursor: 'c3', page: 3, back: ['c2'] });
    const second = previousPage(third)!;
    expect(second).toMatchObject({ cursor: 'c2', page: 2, back: undefined });
    expect(previousPage(second)).toMatchObject({ cursor: undefined, page: 1 });
  });

  it(`keeps the last ${MAX_BACK} cursors, and offers only the first page beyond them`, () => {
    let state = first;
    for (let page = 2; page <= MAX_BACK + 5; page += 1) state = nextPage(state, `c${page}`);
    expect(state.back).toHaveLength(MAX_BACK);
    expect(state.back?.at(-1)).toBe(`c${MAX_BACK + 4}`);
    for (let steps = 0; steps < MAX_BACK; steps += 1) state = previousPage(state)!;
    expect(state.page).toBe(5);
    expect(previousPage(state)).toBeUndefined();
    expect(firstPage(state)).toMatchObject({ cursor: undefined, page: 1, back: undefined });
  });

  it('reads the cursors back from a link, and ignores malformed ones', () => {
    const fourth = nextPage(nextPage(nextPage(first, 'c2'), 'c3'), 'c4');
    expect(browseStateSchema.parse(JSON.parse(JSON.stringify(fourth)))).toEqual(fourth);
    expect(browseStateSchema.parse({ ...fourth, back: 'c2' }).back).toBeUndefined();
  });
});
