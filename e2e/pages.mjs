// The fixture pages: which bundle each is, and the console URLs it answers at.
// Shared by build-fixtures.mjs (what to bundle) and server.mjs (what to serve).

export const BUCKET = 'my-bucket-123456';
export const REGION = 'us-west-2';
export const ACCOUNT_ID = '123456789012';
export const ROLE = 'ReadOnly';
export const SESSION = 'alice';

const S3_HOSTS = ['s3.console.aws.amazon.com', `${REGION}.console.aws.amazon.com`, 'console.aws.amazon.com'];
const deletePath = `/s3/bucket/${BUCKET}/delete`;
const bucketPath = `/s3/buckets/${BUCKET}`;

/**
 * `variant` selects among pages sharing one console path through the
 * `e2e` query parameter, which the real console ignores.
 */
export const PAGES = [
  { name: 'seed1-delete-bucket', title: 'Delete bucket | S3 | us-west-2', hosts: S3_HOSTS, path: deletePath, variant: null },
  { name: 'seed2-list-objects', title: `${BUCKET} - S3 bucket | S3 | us-west-2`, hosts: S3_HOSTS, path: bucketPath, variant: null },
  { name: 'late-error', title: 'Delete bucket | S3 | us-west-2', hosts: S3_HOSTS, path: deletePath, variant: 'late' },
  { name: 'dismiss-error', title: 'Delete bucket | S3 | us-west-2', hosts: S3_HOSTS, path: deletePath, variant: 'dismiss' },
  { name: 'form-error', title: 'Delete bucket | S3 | us-west-2', hosts: S3_HOSTS, path: deletePath, variant: 'form' },
  { name: 'stacked-errors', title: 'Delete bucket | S3 | us-west-2', hosts: S3_HOSTS, path: deletePath, variant: 'stacked' },
  { name: 'modal-error', title: `${BUCKET} - S3 bucket | S3 | us-west-2`, hosts: S3_HOSTS, path: bucketPath, variant: 'modal' },
  { name: 'field-error', title: 'Create bucket | S3 | us-west-2', hosts: S3_HOSTS, path: '/s3/bucket/create', variant: null },
  { name: 'legacy-error', title: 'Delete bucket | S3 | us-west-2', hosts: S3_HOSTS, path: deletePath, variant: 'legacy' },
  { name: 'iframe-error', title: 'Delete bucket | S3 | us-west-2', hosts: S3_HOSTS, path: deletePath, variant: 'iframe' },
  { name: 'frame-content', title: 'Delete bucket | S3 | us-west-2', hosts: S3_HOSTS, path: deletePath, variant: 'frame' },
  { name: 'changing-error', title: 'Delete bucket | S3 | us-west-2', hosts: S3_HOSTS, path: deletePath, variant: 'changing' },
  { name: 'hash-nav', title: 'Instances | EC2 | us-west-2', hosts: [`${REGION}.console.aws.amazon.com`], path: '/ec2/home', variant: null },
];

/** The console URL a test should open for a page (the first host is canonical). */
export function pageUrl(name, { host, extraQuery = {} } = {}) {
  const page = PAGES.find((p) => p.name === name);
  if (!page) throw new Error(`unknown fixture page ${name}`);
  const url = new URL(`https://${host ?? page.hosts[0]}${page.path}`);
  url.searchParams.set('region', REGION);
  if (page.path === bucketPath) {
    url.searchParams.set('bucketType', 'general');
    url.searchParams.set('tab', 'objects');
  }
  if (page.variant) url.searchParams.set('e2e', page.variant);
  for (const [key, value] of Object.entries(extraQuery)) url.searchParams.set(key, value);
  return url.toString();
}

export const SEED1_URL = pageUrl('seed1-delete-bucket');
export const SEED2_URL = pageUrl('seed2-list-objects');
