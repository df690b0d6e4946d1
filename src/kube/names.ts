/** Naming rules of Kubernetes and S3 that several rule families share. */

const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`);

/** Secret names must be DNS-1123 subdomains: at most 253 characters of [a-z0-9.-]. */
export function isDns1123Subdomain(name: string): boolean {
  return name.length <= 253 && DNS1123_SUBDOMAIN.test(name);
}

/** S3 region names: lowercase words joined by dashes with a trailing number (us-west-2). */
const REGION = /^[a-z]{2,}(-[a-z0-9]+)*-\d+$/;

export function isRegionName(region: string): boolean {
  return region.length <= 32 && REGION.test(region);
}

/**
 * The S3 bucket naming rules (general purpose buckets): 3-63 characters of lowercase letters,
 * digits, dots and dashes, starting and ending with a letter or digit, no "..", and not an
 * IP address.
 */
export function isBucketName(bucket: string): boolean {
  return (
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) &&
    !bucket.includes("..") &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(bucket)
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
