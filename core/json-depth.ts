import { MAX_JSON_DEPTH } from "./contract.js";

/**
 * The deepest nesting of arrays and objects the platform accepts in any JSON it is given: request
 * bodies, and what tenant code hands it (events, outputs, model requests). Deeper values would
 * overflow the stack of the recursive code that handles JSON (serialisers, validators, RPC).
 * Pure and dependency-free: the harness inside every tenant isolate bundles it too.
 */
export { MAX_JSON_DEPTH };

/**
 * Whether JSON text nests arrays and objects deeper than `max` levels, found by scanning its
 * characters — no recursion, no parse — so any depth is answered in linear time. Brackets inside
 * strings (escapes included) do not count. The text need not be valid JSON: a parse comes after.
 */
export function jsonNestsDeeper(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped, whatever it is
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * Whether a JavaScript value (one that arrived over RPC, say) nests arrays and objects deeper
 * than `max` levels — a value that contains itself always does — found without recursion. Shared
 * sub-objects are measured once, so a value made exponentially wide by sharing costs time linear
 * in its distinct objects.
 */
export function valueNestsDeeper(value: unknown, max = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== "object") return false;
  // Height of each object, once its children are measured; an object on the stack is in progress.
  const height = new Map<object, number>();
  const onStack = new Set<object>();
  const stack: { node: object; children: unknown[]; next: number; max: number }[] = [];
  const push = (node: object): boolean => {
    if (stack.length >= max) return false;
    onStack.add(node);
    stack.push({ node, children: Array.isArray(node) ? node : Object.values(node), next: 0, max: 0 });
    return true;
  };
  if (!push(value)) return true;
  while (stack.length) {
    const top = stack.at(-1)!;
    if (top.next < top.children.length) {
      const child = top.children[top.next++];
      if (child === null || typeof child !== "object") continue;
      if (onStack.has(child)) return true; // it contains itself: no finite depth
      const known = height.get(child);
      if (known !== undefined) {
        top.max = Math.max(top.max, known);
        if (stack.length + known > max) return true;
        continue;
      }
      if (!push(child)) return true;
      continue;
    }
    stack.pop();
    onStack.delete(top.node);
    const h = top.max + 1;
    height.set(top.node, h);
    const parent = stack.at(-1);
    if (parent) parent.max = Math.max(parent.max, h);
  }
  return false;
}
