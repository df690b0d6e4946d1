/** Naming rules of Kubernetes and S3 that several rule families share. */

const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`);

/** Namespace names are DNS-1123 labels: at most 63 characters of [a-z0-9-]. */
export function isDns1123Label(name: string): boolean {
  return name.length <= 63 && new RegExp(`^${DNS1123_LABEL}$`).test(name);
}

/** Secret names must be DNS-1123 subdomains: at most 253 characters of [a-z0-9.-]. */
export function isDns1123Subdomain(name: string): boolean {
  return name.length <= 253 && DNS1123_SUBDOMAIN.test(name);
}

/**
 * A storage region as the operator passes it to the S3 client: a free word, not only AWS
 * names. `us-west-2`, `default` (MinIO), `auto` (Cloudflare R2), `ap-guangzhou` (Tencent
 * COS), `oss-cn-hangzhou` (Aliyun OSS), `us-central1` (GCS) are all real. What no store
 * uses: spaces, slashes, URLs, control characters, or more than 64 characters.
 */
const REGION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isRegionName(region: string): boolean {
  return REGION.test(region);
}

/**
 * The S3 bucket naming rules (general purpose buckets): 3-63 characters of lowercase letters,
 * digits, dots and dashes, starting and ending with a letter or digit, no "..", and not an
 * IP address. Google Cloud Storage also allows "_".
 */
export function isBucketName(bucket: string, storage: "s3" | "gs" = "s3"): boolean {
  const chars =
    storage === "gs" ? /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/ : /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
  return chars.test(bucket) && !bucket.includes("..") && !/^\d+\.\d+\.\d+\.\d+$/.test(bucket);
}

/**
 * The operator builds `s3://<bucket>` (or `gs://<bucket>`) from the bucket field, so a
 * bucket followed by a path (`backups/nebula/prod`) is a working storage location.
 */
export function isBucketWithPath(value: string, storage: "s3" | "gs"): boolean {
  const slash = value.indexOf("/");
  if (slash < 0) return isBucketName(value, storage);
  const path = value.slice(slash + 1);
  return (
    isBucketName(value.slice(0, slash), storage) &&
    path.length <= 1024 &&
    /^[^\s/]+(\/[^\s/]+)*\/?$/.test(path)
  );
}

/** BR names backups BACKUP_YYYY_MM_DD_HH_MM_SS. */
export function isBackupName(name: string): boolean {
  return /^BACKUP_\d{4}_(0[1-9]|1[0-2])_(0[1-9]|[12]\d|3[01])_([01]\d|2[0-3])_[0-5]\d_[0-5]\d$/.test(
    name,
  );
}

/** The region an AWS endpoint names, for `s3.<region>.amazonaws.com` style hosts. */
export function awsEndpointRegion(endpoint: string): string | undefined {
  const host = urlHost(endpoint);
  const match = host?.match(/^s3[.-]([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/);
  if (!match || match[1] === "external-1") return undefined;
  return match[1];
}

export function isHttpUrl(endpoint: string): boolean {
  const host = urlHost(endpoint);
  return host !== undefined && host.length > 0;
}

function urlHost(endpoint: string): string | undefined {
  try {
    const url = new URL(endpoint);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    return url.hostname;
  } catch {
    return undefined;
  }
}
