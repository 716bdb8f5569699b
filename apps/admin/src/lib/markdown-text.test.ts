import { describe, expect, it } from 'vitest';
import { markdownToText } from './markdown-text';

describe('markdownToText', () => {
  it('drops heading marks and keeps the heading', () => {
    expect(markdownToText('## Install\n\nRun it.')).toBe('Install\n\nRun it.');
  });

  it('keeps the code of a fenced block without its fences', () => {
    expect(markdownToText('Before\n```ts\nconst a = 1;\n```\nAfter')).toBe(
      'Before\nconst a = 1;\nAfter',
    );
  });

  it('does not read a # inside a code block as a heading', () => {
    expect(markdownToText('```sh\n# a comment\n```')).toBe('# a comment');
  });

  it('keeps the words of links, emphasis and inline code', () => {
    expect(
      markdownToText('See [the guide](https://x.test) for **bold**, _italic_ and `code`.'),
    ).toBe('See the guide for bold, italic and code.');
  });

  it('drops list markers, quotes, rules and HTML tags', () => {
    expect(markdownToText('- one\n1. two\n> quoted\n---\n<b>tag</b>')).toBe(
      'one\ntwo\nquoted\ntag',
    );
  });

  it('leaves plain text and snake_case names alone', () => {
    expect(markdownToText('a plain_text_name and 2 * 3 * 4')).toBe(
      'a plain_text_name and 2 * 3 * 4',
    );
  });
});
