// Validates STAC documents against the JSON Schemas shipped in ./stac-schemas (STAC 1.0.0 item and
// collection, projection v1.1.0, raster v1.1.0, GeoJSON): the core schema plus the schema of every
// extension the document declares. Nothing is fetched from the network. The schemas are compiled on
// first use (the Function App imports the handler registry, so ajv is a runtime dependency, but it
// never validates STAC).
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import feature from './stac-schemas/geojson/Feature.json';
import featureCollection from './stac-schemas/geojson/FeatureCollection.json';
import geojson from './stac-schemas/geojson/GeoJSON.json';
import geometry from './stac-schemas/geojson/Geometry.json';
import geometryCollection from './stac-schemas/geojson/GeometryCollection.json';
import lineString from './stac-schemas/geojson/LineString.json';
import multiLineString from './stac-schemas/geojson/MultiLineString.json';
import multiPoint from './stac-schemas/geojson/MultiPoint.json';
import multiPolygon from './stac-schemas/geojson/MultiPolygon.json';
import point from './stac-schemas/geojson/Point.json';
import polygon from './stac-schemas/geojson/Polygon.json';
import projection from './stac-schemas/projection-v1.1.0/schema.json';
import raster from './stac-schemas/raster-v1.1.0/schema.json';
import catalog from './stac-schemas/stac-v1.0.0/catalog-spec/json-schema/catalog.json';
import collection from './stac-schemas/stac-v1.0.0/collection-spec/json-schema/collection.json';
import basics from './stac-schemas/stac-v1.0.0/item-spec/json-schema/basics.json';
import datetime from './stac-schemas/stac-v1.0.0/item-spec/json-schema/datetime.json';
import instrument from './stac-schemas/stac-v1.0.0/item-spec/json-schema/instrument.json';
import item from './stac-schemas/stac-v1.0.0/item-spec/json-schema/item.json';
import licensing from './stac-schemas/stac-v1.0.0/item-spec/json-schema/licensing.json';
import provider from './stac-schemas/stac-v1.0.0/item-spec/json-schema/provider.json';
import { PROJECTION_EXTENSION, RASTER_EXTENSION } from './stacDocuments';

const ITEM_ID = 'https://schemas.stacspec.org/v1.0.0/item-spec/json-schema/item.json';
const COLLECTION_ID = 'https://schemas.stacspec.org/v1.0.0/collection-spec/json-schema/collection.json';
/**
 * The projection schema refers to PROJJSON's schema for `proj:projjson`, which is not shipped: the
 * product never writes proj:projjson (it writes proj:epsg), so an object-only stand-in is registered.
 */
const PROJJSON_ID = 'https://proj.org/schemas/v0.5/projjson.schema.json';

let compiled:
  { core: Record<'item' | 'collection', ValidateFunction>; ext: Map<string, ValidateFunction> } | undefined;

function load() {
  if (compiled) return compiled;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // JSON Schema's IRI formats (URIs that may hold non-ASCII characters): no spaces, a scheme for iri.
  ajv.addFormat('iri', /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/);
  ajv.addFormat('iri-reference', /^[^\s]*$/);
  for (const s of [
    feature,
    featureCollection,
    geojson,
    geometry,
    geometryCollection,
    lineString,
    multiLineString,
    multiPoint,
    multiPolygon,
    point,
    polygon,
    basics,
    datetime,
    instrument,
    licensing,
    provider,
    item,
    catalog,
    collection,
    projection,
    raster,
  ]) {
    ajv.addSchema(s as object);
  }
  ajv.addSchema({ $id: PROJJSON_ID, type: 'object' });
  const get = (id: string) => {
    const f = ajv.getSchema(id);
    if (!f) throw new Error(`STAC schema ${id} is not loaded`);
    return f;
  };
  compiled = {
    core: { item: get(ITEM_ID), collection: get(COLLECTION_ID) },
    ext: new Map([
      [PROJECTION_EXTENSION, get(PROJECTION_EXTENSION)],
      [RASTER_EXTENSION, get(RASTER_EXTENSION)],
    ]),
  };
  return compiled;
}

export interface StacValidation {
  valid: boolean;
  /** "schema: /json/path message" per problem. */
  errors: string[];
}

/** Validates an item or a collection against the core schema and its declared extensions. */
export function validateStac(doc: unknown, kind: 'item' | 'collection'): StacValidation {
  const { core, ext } = load();
  const errors: string[] = [];
  const run = (name: string, f: ValidateFunction) => {
    if (!f(doc)) {
      for (const e of f.errors ?? []) {
        errors.push(
          `${name}: ${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'allowedValue' in e.params ? ` (${JSON.stringify(e.params.allowedValue)})` : ''}`,
        );
      }
    }
  };
  run(`STAC ${kind} 1.0.0`, core[kind]);
  const declared = (doc as { stac_extensions?: unknown })?.stac_extensions;
  for (const url of Array.isArray(declared) ? declared : []) {
    const f = ext.get(String(url));
    if (f) run(String(url).replace(/^https:\/\/stac-extensions\.github\.io\//, ''), f);
    else
      errors.push(
        `stac_extensions: no schema shipped for ${String(url)} (known: ${[...ext.keys()].join(', ')})`,
      );
  }
  return { valid: errors.length === 0, errors };
}
