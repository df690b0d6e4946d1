import type { RuleMode, RuleResult } from "../rules/rule.js";
import { type AuditEntry, type AuditOutcome, type GuardedObject, judged } from "./audit.js";

const OUTCOMES: readonly AuditOutcome[] = ["pass", "fail", "warn"];
const MODES: readonly RuleMode[] = ["enforce", "warn", "audit", "off"];

/**
 * One result is one number: message index, rule index, mode and outcome packed as
 * `((message * RULES + rule) * 4 + mode) * 4 + outcome`. Below 2^53 for up to 2^39 distinct
 * messages; RULES is far above the registry's few dozen rule ids.
 */
const RULES = 1024;

/** Each distinct string once, by index: 1.4 million results name a few dozen rules and messages. */
class Interner {
  private readonly index = new Map<string, number>();
  readonly values: string[] = [];

  /** The index of a string already seen, without adding it. */
  find(value: string): number | undefined {
    return this.index.get(value);
  }

  intern(value: string): number {
    let i = this.index.get(value);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(value);
      this.index.set(value, i);
    }
    return i;
  }
}

/** What is kept of one audited object: names by index, its results as a slice of packed numbers. */
interface ObjectRecord {
  readonly namespace: number;
  readonly apiVersion: number;
  readonly kind: number;
  readonly name: string;
  readonly uid: string | undefined;
  /** Where its results start in the packed results, and how many. */
  readonly start: number;
  readonly count: number;
}

export type Counts = { pass: number; fail: number; warn: number };

/**
 * The audit's results, held compactly so that memory grows by a little per object (its name,
 * uid and one number per rule: about 250 bytes for a br-ent Job and its 14 rules) instead of
 * a full entry per object and rule with its own copy of every string (17 KiB per Job at
 * 100,000 Jobs before). Entries, reports and outputs are expanded from it one at a time.
 */
export class AuditResults {
  private readonly strings = new Interner();
  private readonly rules = new Interner();
  private readonly records: ObjectRecord[] = [];
  private readonly byNamespace = new Map<number, number[]>();
  private packed = new Float64Array(1024);
  private used = 0;
  readonly counts: Counts = { pass: 0, fail: 0, warn: 0 };
  /** Results per rule id and outcome, for the audit's metric. */
  readonly byRule = new Map<string, Counts>();

  /** Objects audited: those with results and those the rules had nothing to run on. */
  get objects(): number {
    return this.records.length;
  }

  get results(): number {
    return this.used;
  }

  add(item: GuardedObject, results: readonly RuleResult[]): void {
    const { object, namespace } = item;
    const ns = this.strings.intern(namespace);
    const start = this.used;
    for (const ruleResult of results) {
      const { result, message } = judged(ruleResult);
      const rule = this.rules.intern(ruleResult.rule.id);
      if (rule >= RULES) throw new RangeError(`more than ${RULES} rule ids`);
      const code =
        ((this.strings.intern(message) * RULES + rule) * 4 + MODES.indexOf(ruleResult.mode)) * 4 +
        OUTCOMES.indexOf(result);
      this.push(code);
      this.counts[result]++;
      const perRule = this.byRule.get(ruleResult.rule.id) ?? { pass: 0, fail: 0, warn: 0 };
      perRule[result]++;
      this.byRule.set(ruleResult.rule.id, perRule);
    }
    const index = this.records.length;
    this.records.push({
      namespace: ns,
      apiVersion: this.strings.intern(object.apiVersion ?? ""),
      kind: this.strings.intern(object.kind ?? ""),
      name: object.metadata?.name ?? "",
      uid: (object.metadata as { uid?: string } | undefined)?.uid,
      start,
      count: this.used - start,
    });
    const list = this.byNamespace.get(ns);
    if (list) list.push(index);
    else this.byNamespace.set(ns, [index]);
  }

  /** Every entry in the order the objects were listed (kind by kind), expanded one at a time. */
  *entries(): Generator<AuditEntry> {
    for (const record of this.records) yield* this.entriesOf(record);
  }

  /** The namespaces with audited objects, sorted. */
  namespaces(): string[] {
    return [...this.byNamespace.keys()]
      .map((i) => this.strings.values[i] as string)
      .sort(compareText);
  }

  /**
   * One namespace's entries in the reports' order: by `kind/name/rule`, as reports always
   * were (so that an unchanged namespace is not rewritten after an upgrade), an object's
   * results together.
   */
  *namespaceEntries(namespace: string): Generator<AuditEntry> {
    const ns = this.strings.find(namespace);
    const indexes = (ns === undefined ? undefined : this.byNamespace.get(ns)) ?? [];
    const keyed = indexes.map((i) => {
      const record = this.records[i] as ObjectRecord;
      return { record, key: `${this.strings.values[record.kind]}/${record.name}/` };
    });
    keyed.sort((a, b) => compareText(a.key, b.key));
    for (const { record } of keyed) {
      const entries = [...this.entriesOf(record)];
      // Stable: a rule reported twice (fail-open splits one) keeps its order.
      entries.sort((a, b) => compareText(a.rule, b.rule));
      yield* entries;
    }
  }

  private *entriesOf(record: ObjectRecord): Generator<AuditEntry> {
    const { values } = this.strings;
    for (let i = record.start; i < record.start + record.count; i++) {
      let code = this.packed[i] as number;
      const outcome = code % 4;
      code = (code - outcome) / 4;
      const mode = code % 4;
      code = (code - mode) / 4;
      const rule = code % RULES;
      const message = (code - rule) / RULES;
      yield {
        namespace: values[record.namespace] as string,
        apiVersion: values[record.apiVersion] as string,
        kind: values[record.kind] as string,
        name: record.name,
        uid: record.uid,
        rule: this.rules.values[rule] as string,
        mode: MODES[mode] as RuleMode,
        result: OUTCOMES[outcome] as AuditOutcome,
        message: values[message] as string,
      };
    }
  }

  private push(code: number): void {
    if (this.used === this.packed.length) {
      const grown = new Float64Array(this.packed.length * 2);
      grown.set(this.packed);
      this.packed = grown;
    }
    this.packed[this.used++] = code;
  }
}

/** The order reports have always used (String.prototype.localeCompare), without its cost per call. */
export const compareText = new Intl.Collator().compare;
