// Which GDAL failures retrying cannot fix. A file GDAL cannot parse or decode (random bytes with a
// TIFF header, a truncated GeoTIFF: "TIFFFillTile: Read error", "not recognized as a supported file
// format") fails the same way on every worker, so it is not retried. A failure that mentions the
// network, the disk or memory (an HTTP status from /vsiaz/, a curl error, "No space left on device")
// may pass next time; so may anything unrecognised (a process killed by the OOM killer). The network
// is checked first: a remote read cut short also shows up as a TIFF "Read error".
import { NonRetryableError } from '../handlerTypes';

const TRANSIENT =
  /HTTP (response |error )?code|CPLE_HttpResponse|ERROR 11:|curl|resolve host|Connection (refused|reset|timed out|closed)|timed? ?out|Temporary failure|SSL|TLS|Server returned|Service Unavailable|throttl|No space left|ENOSPC|Cannot allocate|out of memory|Write error|Too many open files|Resource temporarily unavailable/i;

const DATA =
  /TIFF\w*(:|\(\))|not recognized as (being )?(in )?a supported (file )?(format|dataset)|not a supported file format|IReadBlock failed|Read error at|decod(e|ing) (error|failed)|LZWDecode|ZIPDecode|ZSTD|LERC|JPEGLib|libjpeg|Not a TIFF|Cannot read TIFF header|corrupt|truncated|unable to open|does not exist in the file system|No such file or directory|Premature end/i;

/** 'data' when the text shows a deterministic format/read error of the input, else 'transient'. */
export function classifyGdalFailure(text: string): 'data' | 'transient' {
  if (TRANSIENT.test(text)) return 'transient';
  return DATA.test(text) ? 'data' : 'transient';
}

/** GDAL could not read the data: the same input fails the same way on every retry. */
export class GdalDataError extends NonRetryableError {
  constructor(message: string) {
    super(message);
    this.name = 'GdalDataError';
  }
}

/** The `ERROR n: …` lines a GDAL tool printed (tools that keep going after a block fails exit 0). */
export function gdalErrorLines(stderr: string): string[] {
  return stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => /^ERROR \d+:/.test(l));
}
