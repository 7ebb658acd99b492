// Names every JavaScript object answers to (constructor, toString, __proto__, …). A node id or input
// name spelt like one would be found on any object by a careless `in` or `obj[name]`, so such names
// are refused where they are declared, and user-keyed objects are read with Object.hasOwn.
const RESERVED: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

export function isReservedName(name: string): boolean {
  return RESERVED.has(name);
}
