/**
 * A strict reader for the XML our JUnit reports are made of (elements, attributes in double
 * quotes, text, the five predefined entities and character references): it throws on
 * anything not well-formed, so a test that reads a report also proves it parses.
 */

export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  /** The element's own text, entities decoded. */
  text: string;
}

const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
// biome-ignore lint/suspicious/noControlCharactersInRegex: characters XML 1.0 forbids
const NOT_XML = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function decode(raw: string, where: string): string {
  if (/&/.test(raw.replace(ENTITY, ""))) throw new Error(`a bare & in ${where}: ${raw}`);
  if (/</.test(raw)) throw new Error(`a bare < in ${where}`);
  if (NOT_XML.test(raw)) throw new Error(`a character XML cannot hold in ${where}`);
  return raw.replace(ENTITY, (entity) => {
    const body = entity.slice(1, -1);
    if (body.startsWith("#x")) return String.fromCodePoint(Number.parseInt(body.slice(2), 16));
    if (body.startsWith("#")) return String.fromCodePoint(Number(body.slice(1)));
    return NAMED[body] as string;
  });
}

export function parseXml(text: string): XmlElement {
  const body = text.replace(/^<\?xml [^?]*\?>\s*/, "");
  const token =
    /<\/([A-Za-z_][\w.-]*)\s*>|<([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"]*")*)\s*(\/?)>|([^<]+)/y;
  const root: XmlElement = { name: "#document", attributes: {}, children: [], text: "" };
  const stack: XmlElement[] = [root];
  let offset = 0;
  while (offset < body.length) {
    token.lastIndex = offset;
    const match = token.exec(body);
    if (!match)
      throw new Error(`not well-formed at offset ${offset}: ${body.slice(offset, offset + 40)}`);
    offset = token.lastIndex;
    const [, closing, opening, attributeText, selfClosing, chars] = match;
    const top = stack[stack.length - 1] as XmlElement;
    if (chars !== undefined) {
      const decoded = decode(chars, `<${top.name}>`);
      if (top === root && decoded.trim() !== "") throw new Error("text outside the root element");
      top.text += decoded;
    } else if (closing !== undefined) {
      if (top.name !== closing) throw new Error(`</${closing}> closes <${top.name}>`);
      stack.pop();
    } else {
      const attributes: Record<string, string> = {};
      for (const [, name, value] of (attributeText ?? "").matchAll(
        /([A-Za-z_][\w:.-]*)="([^"]*)"/g,
      )) {
        if ((name as string) in attributes) throw new Error(`attribute ${name} twice`);
        attributes[name as string] = decode(value as string, `${opening}@${name}`);
      }
      const element: XmlElement = { name: opening as string, attributes, children: [], text: "" };
      top.children.push(element);
      if (!selfClosing) stack.push(element);
    }
  }
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1]?.name}> is never closed`);
  if (root.children.length !== 1) throw new Error("not exactly one root element");
  return root.children[0] as XmlElement;
}

/** Every element named `name` below `element`, depth first. */
export function elements(element: XmlElement, name: string): XmlElement[] {
  return element.children.flatMap((child) => [
    ...(child.name === name ? [child] : []),
    ...elements(child, name),
  ]);
}
