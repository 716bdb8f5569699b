/**
 * Markdown as the plain text a reader sees: headings, emphasis, code fences, links and list
 * markers give up their syntax and keep their words. Not a renderer: snippets and previews are
 * text (with keyword highlights), and nothing from a document is ever turned into HTML.
 */
export function markdownToText(markdown: string): string {
  const lines: string[] = [];
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      inFence = !inFence;
      continue;
    }
    if (inFence) {
      lines.push(line);
      continue;
    }
    if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) continue; // a horizontal rule
    lines.push(
      line
        .replace(/^\s{0,3}#{1,6}\s+/, '') // heading marks
        .replace(/\s+#+\s*$/, '') // closing heading marks
        .replace(/^\s{0,3}>\s?/, '') // block quotes
        .replace(/^(\s*)(?:[-*+]|\d+[.)])\s+(\[[ xX]\]\s+)?/, '$1') // list markers, task boxes
        .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1') // images: their alt text
        .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1') // links: their text
        .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1') // reference links
        .replace(/<\/?[a-zA-Z][^>]*>/g, '') // inline HTML tags
        .replace(/(`+)(.+?)\1/g, '$2') // inline code
        .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, '$2') // bold
        .replace(/(^|[^\w*])([*_])(?=\S)(.+?)(?<=\S)\2(?![\w*])/g, '$1$3') // italics
        .replace(/~~(.+?)~~/g, '$1'), // strikethrough
    );
  }
  return lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
