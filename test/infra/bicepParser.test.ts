// The small Bicep parser and type-listing reader behind test/infra/bicep.test.ts.
import { describe, expect, it } from 'vitest';
import { BicepSyntaxError, parseBicep, parseTypeListing, type Value } from '../support/bicep';

const obj = (v: Value | undefined) => {
  if (v?.kind !== 'object') throw new Error(`not an object: ${JSON.stringify(v)}`);
  return Object.fromEntries(v.props.map((p) => [p.key, p.value]));
};

describe('parseBicep', () => {
  it('reads declarations, decorators, objects, arrays, for and if bodies, ternaries and literals inside expressions', () => {
    const src = `
targetScope = 'resourceGroup'
// a comment
@description('The name.')
@minLength(2)
param name string
@allowed([
  'a'
  'b'
])
param sku string = 'a'
param ips array = []
var tags = { 'azd-env-name': name, owner: 'x' }
var n = max(1, 2) + 3 /* inline */
resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'st\${name}'
  properties: {
    allowSharedKeyAccess: false
    network: flag
      ? { publicNetworkAccess: 'Disabled' }
      : null
  }
  tags: union(tags, { 'azd-service-name': 'api' })
}
resource roles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (r, i) in ['x', 'y']: {
    scope: st
    name: guid(st.id, r)
    properties: { principalId: 'p', roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      i == 0 ? r : 'z'
    ) }
  }
]
resource existingOne 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: 'x'
}
module m 'modules/m.bicep' = if (name != '') {
  name: 'm'
  params: { list: filter(ips, a => !empty(a)) }
}
output URL string = 'https://\${st.name}'
`;
    const d = parseBicep(src);
    expect(d.map((x) => `${x.kind} ${x.name}`)).toEqual([
      'targetScope targetScope',
      'param name',
      'param sku',
      'param ips',
      'var tags',
      'var n',
      'resource st',
      'resource roles',
      'resource existingOne',
      'module m',
      'output URL',
    ]);
    expect(d[1]!.decorators.map((x) => x.name)).toEqual(['description', 'minLength']);
    expect(d[2]!.decorators[0]!.args[0]).toMatchObject({
      kind: 'array',
      items: [{ value: 'a' }, { value: 'b' }],
    });
    expect(d[2]!.value).toMatchObject({ kind: 'string', value: 'a' });
    const st = obj(d[6]!.value);
    expect(d[6]!.type).toBe('Microsoft.Storage/storageAccounts@2023-05-01');
    expect(st.name).toMatchObject({ kind: 'string', interpolated: true });
    const props = obj(st.properties);
    expect(props.allowSharedKeyAccess).toMatchObject({ kind: 'bool', value: false });
    expect(props.network).toMatchObject({ kind: 'expr', parts: [{ kind: 'object' }] });
    expect(obj((props.network as { parts: Value[] }).parts[0])).toHaveProperty('publicNetworkAccess');
    expect(st.tags).toMatchObject({ kind: 'expr', identifiers: expect.arrayContaining(['union', 'tags']) });
    const roles = d[7]!.value!;
    expect(roles).toMatchObject({ kind: 'for', variable: 'r,i', source: { kind: 'array' } });
    expect(obj((roles as { body: Value }).body)).toHaveProperty('properties');
    expect(d[8]!.existing).toBe(true);
    expect(d[9]!.value).toMatchObject({ kind: 'if', condition: "name!=''", body: { kind: 'object' } });
    expect(d[10]).toMatchObject({ kind: 'output', type: 'string' });
  });

  it('says where the syntax it cannot read is', () => {
    expect(() => parseBicep("param x string\nvar y = 'open\n", 'x.bicep')).toThrow(BicepSyntaxError);
    expect(() => parseBicep("param x string\nvar y = 'open\n", 'x.bicep')).toThrow(
      /x\.bicep:2: unterminated string/,
    );
    expect(() => parseBicep('resource r = {}', 'y.bicep')).toThrow(
      /y\.bicep:1: expected the resource type string/,
    );
    expect(() => parseBicep('import foo', 'z.bicep')).toThrow(/unsupported declaration "import"/);
  });
});

describe('parseTypeListing', () => {
  it('reads resources, definitions, references, enums, flags and additional properties', () => {
    const t = parseTypeListing(`## Resource A/b@2020-01-01
* **name**: string {minLength: 3, pattern: "^[a-z(]+$"} (Required, DeployTimeConstant)
* **properties**: [Props](#props)
* **id**: string (ReadOnly, DeployTimeConstant)

## Props
* **mode**: 'On' | 'Off' | string
* **closed**: 'X' | 'Y'
* **rules**: [Rule](#rule)[]
* **secret**: string {sensitive} (WriteOnly)

## Tags
### Additional Properties
* **Additional Properties Type**: string
`);
    const r = t.resources.get('A/b@2020-01-01')!;
    expect(r.properties.get('name')).toEqual({
      type: { kind: 'primitive', name: 'string', array: false },
      flags: ['Required', 'DeployTimeConstant'],
    });
    expect(r.properties.get('id')!.flags).toContain('ReadOnly');
    const p = t.definitions.get('Props')!;
    expect(p.properties.get('mode')!.type).toEqual({
      kind: 'enum',
      values: ['On', 'Off'],
      open: true,
      array: false,
    });
    expect(p.properties.get('closed')!.type).toMatchObject({ open: false });
    expect(p.properties.get('rules')!.type).toEqual({ kind: 'ref', name: 'Rule', array: true });
    expect(p.properties.get('secret')!.flags).toEqual(['WriteOnly']);
    expect(t.definitions.get('Tags')!.additional).toEqual({
      kind: 'primitive',
      name: 'string',
      array: false,
    });
  });
});
