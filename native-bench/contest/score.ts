// Scoring exactly as the contest's final test (rinha-test/rinha-final.js, handleSummary, in the contest's repository) does it.
// Pure: no I/O. Money math goes through Decimal (big.js semantics), p99 through k6's percentile.
import { Decimal } from './decimal.js';

/** k6 Trend percentile: sort ascending, i = pct·(n−1), interpolate linearly between floor(i) and ceil(i). */
export function k6Percentile(values: ArrayLike<number>, pct: number): number {
  const n = values.length;
  if (n === 0) return 0;
  if (n === 1) return values[0];
  const sorted = Float64Array.from(values).sort();
  return percentileOfSorted(sorted, pct);
}

/** Same formula on an already-sorted array (to take many percentiles from one sort). */
export function percentileOfSorted(sorted: ArrayLike<number>, pct: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  if (n === 1) return sorted[0];
  const i = pct * (n - 1);
  const j = sorted[Math.floor(i)];
  const k = sorted[Math.ceil(i)];
  const f = i - Math.floor(i);
  return j + (k - j) * f;
}

/** big.js `new Big(x).round(2).toNumber()`: half-up on the number's decimal text. */
export function round2(x: number): number {
  return Decimal.of(x).round(2).toNumber();
}

/** p99 bonus: max(round2((11 − p99) · 0.02), 0); the product is a float, as in the official script. */
export function p99Bonus(p99_ms: number): number {
  return Math.max(round2((11 - p99_ms) * 0.02), 0);
}

const INCONSISTENCY_FINE = 0.35;

export interface ScoreTotals {
  gross: number; // total_bruto: default + fallback totalAmount
  fees: number; // total_taxas
  p99_raw_ms: number; // k6 p(99) of successful request durations, before rounding
  inconsistencies: number;
}

export interface Score {
  p99_ms: number;
  bonus: number;
  fine: number;
  net_before_bonus: number;
  score: number; // total_liquido
}

/** net = gross − fees; score = net + net·bonus − net·fine (big.js, exact decimal, then toNumber). */
export function score(t: ScoreTotals): Score {
  const p99_ms = round2(t.p99_raw_ms);
  const bonus = p99Bonus(p99_ms);
  const fine = t.inconsistencies > 0 ? INCONSISTENCY_FINE : 0;
  const net = Decimal.of(t.gross).minus(t.fees).toNumber();
  const netD = Decimal.of(net);
  const total = netD.plus(netD.times(bonus)).minus(netD.times(fine)).toNumber();
  return { p99_ms, bonus, fine, net_before_bonus: net, score: total };
}

/** The answer of a processor's GET /admin/payments-summary. */
export interface ProcessorAdminSummary {
  totalAmount: number;
  totalRequests: number;
  totalFee: number;
  feePerTransaction: number;
}

export interface OfficialInput {
  participant: string;
  max_requests: number;
  success_count: number; // POSTs answered 200/201/202/204
  failure_count: number;
  inconsistencies: number; // sum over all audits
  p99_raw_ms: number;
  default: ProcessorAdminSummary;
  fallback: ProcessorAdminSummary;
  timestamp?: string;
}

/** The final-results.json object, same keys and computations as the official handleSummary. */
export function officialResult(input: OfficialInput) {
  const gross = Decimal.of(input.default.totalAmount).plus(input.fallback.totalAmount).toNumber();
  const defaultFee = Decimal.of(input.default.feePerTransaction).times(input.default.totalAmount).toNumber();
  const fallbackFee = Decimal.of(input.fallback.feePerTransaction).times(input.fallback.totalAmount).toNumber();
  const fees = Decimal.of(defaultFee).plus(fallbackFee).toNumber();
  const s = score({ gross, fees, p99_raw_ms: input.p99_raw_ms, inconsistencies: input.inconsistencies });
  const processed = input.default.totalRequests + input.fallback.totalRequests;
  const lag = input.success_count - processed;
  return {
    timestamp: input.timestamp ?? new Date().toISOString(),
    participante: input.participant,
    total_liquido: s.score,
    total_bruto: gross,
    total_taxas: fees,
    descricao: "'total_liquido' is the final score (profit): net + net·p99.bonus − net·multa.porcentagem",
    p99: {
      valor: `${s.p99_ms}ms`,
      bonus: `${Decimal.of(s.bonus).times(100).toString()}%`,
      max_requests: input.max_requests,
      descricao: 'bonus = max((11 - p99.valor) * 0.02, 0)',
    },
    multa: {
      porcentagem: s.fine,
      total: Decimal.of(s.net_before_bonus).times(s.fine).toNumber(),
      composicao: {
        num_inconsistencias: input.inconsistencies,
        descricao: "if 'num_inconsistencias' > 0 the fine is 35%",
      },
    },
    caixa_dois: {
      detectado: lag < 0,
      descricao: 'negative lag = processors hold more payments than were accepted (disqualifying)',
    },
    lag: {
      num_pagamentos_total: processed,
      num_pagamentos_solicitados: input.success_count,
      lag,
      descricao: 'accepted POSTs minus payments the processors hold',
    },
    pagamentos_solicitados: {
      qtd_sucesso: input.success_count,
      qtd_falha: input.failure_count,
      descricao: "'qtd_sucesso' = POST /payments answered 200/201/202/204, 'qtd_falha' = the rest (incl. timeouts)",
    },
    pagamentos_realizados_default: {
      total_bruto: input.default.totalAmount,
      num_pagamentos: input.default.totalRequests,
      total_taxas: defaultFee,
      descricao: 'processor default admin summary',
    },
    pagamentos_realizados_fallback: {
      total_bruto: input.fallback.totalAmount,
      num_pagamentos: input.fallback.totalRequests,
      total_taxas: fallbackFee,
      descricao: 'processor fallback admin summary',
    },
  };
}

export type OfficialResult = ReturnType<typeof officialResult>;
