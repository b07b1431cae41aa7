/**
 * The `scope view` page: a timeline drawn on one canvas (ruler, tracks, slices, marks,
 * arrows, counters), track names and panels in the DOM. It asks the server for a window
 * of the trace at the zoom level shown (src/view/index.ts merges what is under a pixel)
 * and redraws the data it has at once while a new window is on its way.
 *
 * d3-scale maps time to pixels and picks ruler ticks; d3-zoom turns mouse drag, Ctrl+wheel
 * and trackpad pinch into one zoom transform (x only). Plain wheel scrolls the tracks and
 * Shift+wheel or a horizontal swipe pans, as in Perfetto; W/A/S/D go through the same
 * transform.
 */
import { scaleLinear, type ScaleLinear } from "d3-scale";
import { select } from "d3-selection";
import { zoom as d3zoom, zoomIdentity, type D3ZoomEvent, type ZoomBehavior, type ZoomTransform } from "d3-zoom";
import { InstantKind, SliceKind, type Details, type Meta, type SearchHit, type TrackInfo, type WindowAnswer } from "../wire";


const SLICE = 9;
const INSTANT = 6;
const ARROW = 7;
const RULER_H = 28;
const GROUP_H = 20;
const ROW_H = 16;
const MARK_H = 12;
const COUNTER_H = 34;
const GAP = 4;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const canvas = $<HTMLCanvasElement>("canvas");
const ctx = canvas.getContext("2d")!;

interface Layout {
  track: TrackInfo;
  top: number;
  height: number;
  /** Slices start below the marks strip on call tracks. */
  rowsTop: number;
}

const state = {
  meta: null as Meta | null,
  layout: new Map<number, Layout>(),
  groups: [] as { label: string; top: number }[],
  contentHeight: 0,
  scrollY: 0,
  width: 0,
  height: 0,
  base: scaleLinear(),
  x: scaleLinear() as ScaleLinear<number, number>,
  transform: zoomIdentity as ZoomTransform,
  data: null as WindowAnswer | null,
  dataPxNs: 0,
  /** The tracks the window held was asked for (those near the vertical view). */
  dataTracks: new Set<number>(),
  selected: -1,
  highlight: new Set<number>(),
  range: null as [number, number] | null,
  mouseX: -1,
  firstPaintMs: -1,
  fetching: null as AbortController | null,
  fetchTimer: 0,
};

let zoomBehavior: ZoomBehavior<HTMLCanvasElement, unknown>;

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, { signal });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return (await response.json()) as T;
}

// ---------------------------------------------------------------------------------------
// Time formatting.

function formatDuration(ns: number): string {
  const abs = Math.abs(ns);
  if (abs >= 1e9) return `${(ns / 1e9).toFixed(abs >= 1e10 ? 2 : 3)} s`;
  if (abs >= 1e6) return `${(ns / 1e6).toFixed(abs >= 1e8 ? 1 : abs >= 1e7 ? 2 : 3)} ms`;
  if (abs >= 1e3) return `${(ns / 1e3).toFixed(abs >= 1e5 ? 1 : 2)} µs`;
  return `${Math.round(ns)} ns`;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(2)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/** A ruler tick: enough digits for the tick step. */
function formatTick(ns: number, stepNs: number): string {
  const [unit, scale] = stepNs >= 1e8 ? ["s", 1e9] : stepNs >= 1e5 ? ["ms", 1e6] : stepNs >= 100 ? ["µs", 1e3] : ["ns", 1];
  const digits = Math.max(0, Math.ceil(-Math.log10(stepNs / scale) + 1e-9));
  return `${(ns / scale).toFixed(Math.min(digits, 6))} ${unit}`;
}

// ---------------------------------------------------------------------------------------
// Layout: process groups, then their tracks.

function layoutTracks(): void {
  const meta = state.meta!;
  state.layout.clear();
  state.groups = [];
  const labels = $("labels-inner");
  labels.textContent = "";
  let y = 0;
  let group = "";
  for (const track of meta.tracks) {
    const groupName = `${track.host} · ${track.process}`;
    if (groupName !== group) {
      group = groupName;
      state.groups.push({ label: groupName, top: y });
      const div = document.createElement("div");
      div.className = "group-label";
      div.style.top = `${y}px`;
      div.style.height = `${GROUP_H}px`;
      div.textContent = groupName;
      div.title = groupName;
      labels.append(div);
      y += GROUP_H;
    }
    const marks = track.kind === "calls" ? MARK_H : 0;
    const height = track.kind === "counter" ? COUNTER_H : marks + track.rows * ROW_H + GAP;
    state.layout.set(track.id, { track, top: y, height, rowsTop: y + marks });
    const div = document.createElement("div");
    div.className = "track-label";
    div.dataset.track = String(track.id);
    div.style.top = `${y}px`;
    div.style.height = `${height}px`;
    div.style.lineHeight = `${Math.min(height, 20)}px`;
    div.textContent = track.label;
    div.title = `${track.process} — ${track.label}`;
    labels.append(div);
    y += height;
  }
  state.contentHeight = y;
}

function resize(): void {
  const rect = canvas.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  state.width = Math.max(1, rect.width);
  state.height = Math.max(1, rect.height);
  canvas.width = Math.round(state.width * ratio);
  canvas.height = Math.round(state.height * ratio);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  if (state.meta) {
    state.base = scaleLinear().domain([0, Math.max(state.meta.durationNs, 1)]).range([0, state.width]);
    zoomBehavior?.extent([
      [0, 0],
      [state.width, state.height],
    ]);
    applyTransform(state.transform);
  }
}

function clampScroll(): void {
  const max = Math.max(0, state.contentHeight - (state.height - RULER_H));
  state.scrollY = Math.min(Math.max(0, state.scrollY), max);
  $("labels-inner").style.transform = `translateY(${RULER_H - state.scrollY}px)`;
}

function applyTransform(transform: ZoomTransform): void {
  state.transform = transform;
  state.x = transform.rescaleX(state.base);
  scheduleFetch();
  draw();
}

// ---------------------------------------------------------------------------------------
// Fetching windows: three view widths around the view, at the view's resolution.

function visibleRange(): [number, number] {
  const [t0, t1] = state.x.domain() as [number, number];
  return [t0, t1];
}

/** Tracks within a screen above and below the visible ones: a window is asked for these only. */
function nearTracks(): number[] {
  const visible = state.height - RULER_H;
  const top = state.scrollY - visible;
  const bottom = state.scrollY + 2 * visible;
  const ids: number[] = [];
  for (const layout of state.layout.values()) if (layout.top + layout.height >= top && layout.top <= bottom) ids.push(layout.track.id);
  return ids;
}

function needsFetch(): boolean {
  const data = state.data;
  if (!data) return true;
  const visible = state.height - RULER_H;
  for (const layout of state.layout.values()) {
    if (layout.top + layout.height >= state.scrollY && layout.top <= state.scrollY + visible && !state.dataTracks.has(layout.track.id)) return true;
  }
  const [t0, t1] = visibleRange();
  const pxNs = (t1 - t0) / state.width;
  // The window fetched is clipped to the trace: past its ends there is nothing more to ask.
  if ((t0 < data.startNs && data.startNs > 0) || (t1 > data.endNs && data.endNs < state.meta!.durationNs)) return true;
  // Zoomed in past the resolution of what we hold: merged blocks would hide slices.
  return pxNs < state.dataPxNs * 0.7 || pxNs > state.dataPxNs * 4;
}

function scheduleFetch(): void {
  if (!needsFetch()) return;
  clearTimeout(state.fetchTimer);
  state.fetchTimer = window.setTimeout(fetchWindow, state.data ? 40 : 0);
}

async function fetchWindow(): Promise<void> {
  const [t0, t1] = visibleRange();
  const span = t1 - t0;
  const start = Math.max(0, t0 - span);
  const end = Math.min(state.meta!.durationNs + 1, t1 + span);
  const width = Math.round((state.width * (end - start)) / span);
  state.fetching?.abort();
  const controller = new AbortController();
  state.fetching = controller;
  const started = performance.now();
  try {
    const tracks = nearTracks();
    const all = tracks.length === state.layout.size;
    const data = await getJson<WindowAnswer>(`api/window?start=${start}&end=${end}&width=${width}${all ? "" : `&tracks=${tracks.join(",")}`}`, controller.signal);
    state.data = data;
    state.dataTracks = new Set(tracks);
    state.dataPxNs = (end - start) / width;
    const count = data.slices.length / SLICE + data.instants.length / INSTANT;
    setStatus(`${count} items in window (${Math.round(performance.now() - started)} ms)${data.arrowsLeftOut ? `, ${data.arrowsLeftOut} arrows not drawn` : ""}`);
    draw();
    if (state.firstPaintMs < 0) {
      state.firstPaintMs = performance.now();
      document.body.dataset.painted = "1";
    }
    if (needsFetch()) scheduleFetch();
  } catch (error) {
    if ((error as Error).name !== "AbortError") setStatus(`window failed: ${(error as Error).message}`);
  }
}

function setStatus(text: string): void {
  $("status").textContent = text;
}

// ---------------------------------------------------------------------------------------
// Drawing.

function hue(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0) % 360;
}

const kindColor: Record<number, string> = {
  [SliceKind.call]: "", // by name
  [SliceKind.async]: "hsl(265, 45%, 78%)",
  [SliceKind.request]: "hsl(210, 65%, 72%)",
  [SliceKind.query]: "hsl(30, 85%, 70%)",
  [SliceKind.poolWait]: "hsl(45, 40%, 75%)",
  [SliceKind.step]: "hsl(190, 50%, 72%)",
  [SliceKind.gc]: "hsl(0, 70%, 70%)",
  [SliceKind.longTask]: "hsl(15, 85%, 62%)",
};

const instantStyle: Record<number, { color: string; shape: "down" | "up" | "diamond" | "bar" }> = {
  [InstantKind.send]: { color: "#0b57d0", shape: "down" },
  [InstantKind.receive]: { color: "#188038", shape: "up" },
  [InstantKind.spawn]: { color: "#8e24aa", shape: "diamond" },
  [InstantKind.start]: { color: "#5f6368", shape: "bar" },
  [InstantKind.exit]: { color: "#5f6368", shape: "bar" },
  [InstantKind.childExit]: { color: "#8e24aa", shape: "bar" },
  [InstantKind.threadSpawn]: { color: "#8e24aa", shape: "diamond" },
  [InstantKind.threadExit]: { color: "#8e24aa", shape: "bar" },
  [InstantKind.warning]: { color: "#e37400", shape: "diamond" },
  [InstantKind.gc]: { color: "#c5221f", shape: "bar" },
  [InstantKind.longTask]: { color: "#c5221f", shape: "diamond" },
  [InstantKind.error]: { color: "#c5221f", shape: "diamond" },
  [InstantKind.connection]: { color: "#00796b", shape: "bar" },
};

function shortName(label: string): string {
  const paren = label.indexOf(" (");
  return paren > 0 ? label.slice(0, paren) : label;
}

function trackY(track: number): Layout | undefined {
  return state.layout.get(track);
}

let lastDrawMs = 0;

function draw(): void {
  const began = performance.now();
  drawAll();
  lastDrawMs = performance.now() - began;
}

function drawAll(): void {
  const { width, height } = state;
  ctx.clearRect(0, 0, width, height);
  if (!state.meta) return;
  const x = state.x;
  const offset = RULER_H - state.scrollY;
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, RULER_H, width, height - RULER_H);
  ctx.clip();
  // Group bands and track separators.
  for (const group of state.groups) {
    const y = group.top + offset;
    if (y > height || y + GROUP_H < RULER_H) continue;
    ctx.fillStyle = "#eceff3";
    ctx.fillRect(0, y, width, GROUP_H);
  }
  ctx.strokeStyle = "#eee";
  for (const layout of state.layout.values()) {
    const y = layout.top + layout.height + offset - 0.5;
    ctx.beginPath();
    ctx.moveTo(0, y);
    ctx.lineTo(width, y);
    ctx.stroke();
  }
  const data = state.data;
  if (data) {
    drawSlices(data, x, offset);
    drawCounters(data, x, offset);
    drawInstants(data, x, offset);
    drawArrows(data, x, offset);
  }
  if (state.range) {
    const [a, b] = state.range;
    ctx.fillStyle = "rgba(11, 87, 208, 0.12)";
    ctx.fillRect(x(a), RULER_H, Math.max(1, x(b) - x(a)), height);
  }
  ctx.restore();
  drawRuler(x);
}

function drawSlices(data: WindowAnswer, x: ScaleLinear<number, number>, offset: number): void {
  const s = data.slices;
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  for (let i = 0; i < s.length; i += SLICE) {
    const layout = trackY(s[i]!);
    if (!layout) continue;
    const y = layout.rowsTop + s[i + 1]! * ROW_H + offset;
    if (y > state.height || y + ROW_H < RULER_H) continue;
    const x0 = Math.max(-10, x(s[i + 2]!));
    const x1 = Math.min(state.width + 10, x(s[i + 3]!));
    if (x1 < 0 || x0 > state.width) continue;
    const w = Math.max(1, x1 - x0);
    const label = data.labels[s[i + 4]!] ?? "";
    const count = s[i + 6]!;
    const kind = s[i + 7]!;
    const flags = s[i + 8]!;
    const h = kind === SliceKind.call ? hue(shortName(label)) : 0;
    ctx.fillStyle = count > 1 ? (kind === SliceKind.call ? `hsl(${h}, 25%, 72%)` : "#c7ccd3") : kind === SliceKind.call ? `hsl(${h}, 55%, 72%)` : kindColor[kind]!;
    ctx.fillRect(x0, y + 1, w, ROW_H - 2);
    if (state.highlight.has(s[i + 4]!)) {
      ctx.strokeStyle = "#f9ab00";
      ctx.lineWidth = 2;
      ctx.strokeRect(x0 + 1, y + 2, Math.max(1, w - 2), ROW_H - 4);
      ctx.lineWidth = 1;
    }
    if ((flags & 2) !== 0) {
      ctx.fillStyle = "#c5221f";
      ctx.fillRect(x0, y + ROW_H - 3, w, 2);
    }
    if (s[i + 5] === state.selected && count === 1) {
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 2;
      ctx.strokeRect(x0, y + 1, w, ROW_H - 2);
      ctx.lineWidth = 1;
    }
    if (w > 24) {
      const text = count > 1 ? `${count} calls` : shortName(label);
      ctx.fillStyle = "#1d1d1f";
      ctx.save();
      ctx.beginPath();
      ctx.rect(Math.max(x0, 0), y, Math.min(w, state.width), ROW_H);
      ctx.clip();
      ctx.fillText(text, Math.max(x0, 0) + 3, y + ROW_H / 2);
      ctx.restore();
    }
  }
}

function drawInstants(data: WindowAnswer, x: ScaleLinear<number, number>, offset: number): void {
  const s = data.instants;
  for (let i = 0; i < s.length; i += INSTANT) {
    const layout = trackY(s[i]!);
    if (!layout) continue;
    const cx = x(s[i + 1]!);
    if (cx < -6 || cx > state.width + 6) continue;
    const top = layout.top + offset;
    const style = instantStyle[s[i + 2]!] ?? { color: "#555", shape: "diamond" };
    const cy = top + MARK_H / 2;
    ctx.fillStyle = style.color;
    ctx.beginPath();
    if (style.shape === "down") {
      ctx.moveTo(cx - 4, cy - 4);
      ctx.lineTo(cx + 4, cy - 4);
      ctx.lineTo(cx, cy + 4);
    } else if (style.shape === "up") {
      ctx.moveTo(cx - 4, cy + 4);
      ctx.lineTo(cx + 4, cy + 4);
      ctx.lineTo(cx, cy - 4);
    } else if (style.shape === "diamond") {
      ctx.moveTo(cx, cy - 5);
      ctx.lineTo(cx + 4, cy);
      ctx.lineTo(cx, cy + 5);
      ctx.lineTo(cx - 4, cy);
    } else {
      ctx.rect(cx - 1, top, 2, layout.height - GAP);
    }
    ctx.fill();
    if (state.highlight.has(s[i + 5]!)) {
      ctx.strokeStyle = "#f9ab00";
      ctx.lineWidth = 2;
      ctx.strokeRect(cx - 6, cy - 6, 12, 12);
      ctx.lineWidth = 1;
    }
    if (s[i + 3] === state.selected) {
      ctx.strokeStyle = "#000";
      ctx.strokeRect(cx - 6, cy - 6, 12, 12);
    }
  }
}

/** The arrows the last draw drew and left out as too many (the page tests read it). */
const arrowCount = { drawn: 0, hidden: 0 };

/**
 * Arrows in view past this many (one per 16 px of width, at least 24) are not drawn: a
 * service handing work to workers sends thousands of messages, whose arrows would cover
 * every track at the opening zoom and say nothing one by one. Zoomed in to where they are
 * fewer they are drawn; a selected event's own arrows always are. The header says how many
 * are left out.
 */
function arrowLimit(): number {
  return Math.max(24, Math.floor(state.width / 16));
}

function drawArrows(data: WindowAnswer, x: ScaleLinear<number, number>, offset: number): void {
  const s = data.arrows;
  const colors: Record<number, string> = { 1: "rgba(11, 87, 208, 0.75)", 2: "rgba(142, 36, 170, 0.75)", 3: "rgba(24, 128, 56, 0.75)" };
  let inView = 0;
  for (let i = 0; i < s.length; i += ARROW) {
    if (!trackY(s[i]!) || !trackY(s[i + 2]!)) continue;
    const x0 = x(s[i + 1]!);
    const x1 = x(s[i + 3]!);
    if (Math.max(x0, x1) >= 0 && Math.min(x0, x1) <= state.width) inView++;
  }
  const crowded = inView > arrowLimit();
  arrowCount.drawn = 0;
  arrowCount.hidden = 0;
  for (let i = 0; i < s.length; i += ARROW) {
    const from = trackY(s[i]!);
    const to = trackY(s[i + 2]!);
    if (!from || !to) continue;
    const x0 = x(s[i + 1]!);
    const x1 = x(s[i + 3]!);
    const selected = s[i + 5] === state.selected || s[i + 6] === state.selected;
    const visible = Math.max(x0, x1) >= 0 && Math.min(x0, x1) <= state.width;
    if (crowded && !selected) {
      if (visible) arrowCount.hidden++;
      continue;
    }
    if (visible) arrowCount.drawn++;
    const y0 = from.top + offset + MARK_H / 2;
    const y1 = to.top + offset + MARK_H / 2;
    ctx.strokeStyle = selected ? "#000" : colors[s[i + 4]!]!;
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = selected ? 2 : 1;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    const bend = Math.max(20, Math.abs(x1 - x0) / 3);
    ctx.bezierCurveTo(x0 + bend, y0, x1 - bend, y1, x1, y1);
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - 7, y1 - 3.5);
    ctx.lineTo(x1 - 7, y1 + 3.5);
    ctx.fill();
    ctx.lineWidth = 1;
  }
  const note = arrowCount.hidden ? `${arrowCount.hidden} arrows hidden at this zoom: zoom in, or select a message` : "";
  const element = $("arrows");
  if (element.textContent !== note) element.textContent = note;
}

function drawCounters(data: WindowAnswer, x: ScaleLinear<number, number>, offset: number): void {
  for (const [id, points] of Object.entries(data.counters)) {
    const layout = trackY(Number(id));
    if (!layout || points.length === 0) continue;
    let max = 0;
    for (let i = 2; i < points.length; i += 3) max = Math.max(max, points[i]!);
    const top = layout.top + offset + 3;
    const h = layout.height - 6;
    const y = (value: number) => top + h - (max > 0 ? (value / max) * h : 0);
    ctx.fillStyle = "rgba(24, 128, 56, 0.35)";
    ctx.strokeStyle = "rgb(24, 128, 56)";
    ctx.beginPath();
    ctx.moveTo(x(points[0]!), top + h);
    for (let i = 0; i < points.length; i += 3) ctx.lineTo(x(points[i]!), y(points[i + 2]!));
    ctx.lineTo(x(points[points.length - 3]!), top + h);
    ctx.fill();
    ctx.fillStyle = "#333";
    const unit = layout.track.unit;
    ctx.fillText(`max ${unit === "bytes" ? formatBytes(max) : unit === "ns" ? formatDuration(max) : max.toLocaleString()}`, 4, top + 6);
  }
}

function drawRuler(x: ScaleLinear<number, number>): void {
  ctx.fillStyle = "#f6f6f8";
  ctx.fillRect(0, 0, state.width, RULER_H);
  ctx.strokeStyle = "#ccc";
  ctx.beginPath();
  ctx.moveTo(0, RULER_H - 0.5);
  ctx.lineTo(state.width, RULER_H - 0.5);
  ctx.stroke();
  const ticks = x.ticks(Math.max(2, Math.floor(state.width / 110)));
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
  ctx.fillStyle = "#444";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  for (const tick of ticks) {
    const px = Math.round(x(tick)) + 0.5;
    ctx.strokeStyle = "#bbb";
    ctx.beginPath();
    ctx.moveTo(px, RULER_H - 8);
    ctx.lineTo(px, RULER_H);
    ctx.stroke();
    ctx.fillText(formatTick(tick, step), px + 3, RULER_H / 2 - 2);
  }
  if (state.range) {
    const [a, b] = state.range;
    ctx.fillStyle = "rgba(11, 87, 208, 0.25)";
    ctx.fillRect(x(a), 0, Math.max(1, x(b) - x(a)), RULER_H);
  }
}

// ---------------------------------------------------------------------------------------
// Hit testing and locating.

interface Hit {
  id: number;
  x: number;
  y: number;
  /** A block of slices merged under a pixel: how many, and the time they span. */
  count?: number;
  span?: [number, number];
}

function hitTest(px: number, py: number): Hit | null {
  const data = state.data;
  if (!data) return null;
  const offset = RULER_H - state.scrollY;
  const x = state.x;
  // Marks first: they sit on top.
  let best: Hit | null = null;
  let bestDistance = 7;
  const s = data.instants;
  for (let i = 0; i < s.length; i += INSTANT) {
    const layout = trackY(s[i]!);
    if (!layout) continue;
    const cx = x(s[i + 1]!);
    const cy = layout.top + offset + MARK_H / 2;
    const distance = Math.hypot(cx - px, cy - py);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = { id: s[i + 3]!, x: cx, y: cy };
    }
  }
  if (best) return best;
  // The slice under the pointer, else the nearest within 2 px (slices are drawn at least 1 px wide).
  const t = data.slices;
  let nearest: Hit | null = null;
  let nearestDistance = 2.5;
  for (let i = 0; i < t.length; i += SLICE) {
    const layout = trackY(t[i]!);
    if (!layout) continue;
    const y = layout.rowsTop + t[i + 1]! * ROW_H + offset;
    if (py < y || py > y + ROW_H) continue;
    const x0 = x(t[i + 2]!);
    const x1 = Math.max(x0 + 1, x(t[i + 3]!));
    const distance = px < x0 ? x0 - px : px > x1 ? px - x1 : 0;
    if (distance < nearestDistance) {
      nearestDistance = distance;
      nearest = { id: t[i + 5]!, x: (Math.max(x0, 0) + Math.min(x1, state.width)) / 2, y: y + ROW_H / 2, count: t[i + 6]!, span: [t[i + 2]!, t[i + 3]!] };
      if (distance === 0) break;
    }
  }
  return nearest;
}

/** Where an event is drawn, in page coordinates (for the tests), or null. */
function locate(id: number): { x: number; y: number } | null {
  const data = state.data;
  if (!data) return null;
  const rect = canvas.getBoundingClientRect();
  const offset = RULER_H - state.scrollY;
  for (let i = 0; i < data.instants.length; i += INSTANT) {
    if (data.instants[i + 3] !== id) continue;
    const layout = trackY(data.instants[i]!)!;
    return { x: rect.left + state.x(data.instants[i + 1]!), y: rect.top + layout.top + offset + MARK_H / 2 };
  }
  for (let i = 0; i < data.slices.length; i += SLICE) {
    if (data.slices[i + 5] !== id) continue;
    const layout = trackY(data.slices[i]!)!;
    const x0 = Math.max(0, state.x(data.slices[i + 2]!));
    const x1 = Math.min(state.width, state.x(data.slices[i + 3]!));
    return { x: rect.left + (x0 + x1) / 2, y: rect.top + layout.rowsTop + data.slices[i + 1]! * ROW_H + offset + ROW_H / 2 };
  }
  return null;
}

/** Where the widest block of merged slices in view is drawn (page coordinates), or null. */
function mergedBlock(): { x: number; y: number } | null {
  const data = state.data;
  if (!data) return null;
  const rect = canvas.getBoundingClientRect();
  const offset = RULER_H - state.scrollY;
  let best: { x: number; y: number } | null = null;
  let bestWidth = 0;
  for (let i = 0; i < data.slices.length; i += SLICE) {
    if (data.slices[i + 6]! < 2) continue;
    const layout = trackY(data.slices[i]!)!;
    const x0 = Math.max(0, state.x(data.slices[i + 2]!));
    const x1 = Math.min(state.width, state.x(data.slices[i + 3]!));
    const y = layout.rowsTop + data.slices[i + 1]! * ROW_H + offset + ROW_H / 2;
    if (x1 - x0 <= bestWidth || y < RULER_H || y > state.height) continue;
    bestWidth = x1 - x0;
    best = { x: rect.left + (x0 + x1) / 2, y: rect.top + y };
  }
  return best;
}

// ---------------------------------------------------------------------------------------
// Panels.

function trackName(id: number): string {
  const layout = state.layout.get(id);
  return layout ? `${layout.track.process} ${layout.track.label}` : `track ${id}`;
}

function fieldRows(fields: Record<string, unknown>): HTMLTableElement {
  const table = document.createElement("table");
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === undefined) continue;
    const row = table.insertRow();
    const k = row.insertCell();
    k.className = "key";
    k.textContent = key;
    row.insertCell().textContent = typeof value === "string" ? value : JSON.stringify(value);
  }
  return table;
}

function linkButton(prefix: string, link: { id: number; timeNs: number; track: number; name: string }, className = "link"): HTMLButtonElement {
  const button = document.createElement("button");
  button.className = className;
  const b = document.createElement("b");
  b.textContent = prefix;
  button.append(b, ` ${link.name} `);
  const at = document.createElement("span");
  at.className = "muted";
  at.textContent = `@ ${formatDuration(link.timeNs)}`;
  button.append(at);
  button.title = `${link.name} — ${trackName(link.track)}`;
  button.addEventListener("click", () => void jumpTo(link));
  return button;
}

async function showDetails(id: number): Promise<void> {
  state.selected = id;
  draw();
  const panel = $("details");
  let details: Details;
  try {
    details = await getJson<Details>(`api/event?id=${id}`);
  } catch {
    panel.hidden = true;
    return;
  }
  if (state.selected !== id) return;
  panel.hidden = false;
  panel.textContent = "";
  panel.dataset.kind = details.kind;
  panel.dataset.id = String(details.id);
  const h = document.createElement("h3");
  h.textContent = `${details.kind}: ${shortName(details.name)}`;
  const where = document.createElement("div");
  where.className = "muted";
  where.textContent = `${trackName(details.track)} · pid ${details.pid} tid ${details.tid} · at ${formatDuration(details.timeNs)}${details.durationNs !== null ? ` · lasted ${formatDuration(details.durationNs)}` : ""}`;
  panel.append(h, where);
  for (const link of details.links) panel.append(linkButton(`${link.label}:`, link));
  panel.append(fieldRows(details.fields));
  if (details.end) {
    const end = document.createElement("h3");
    end.textContent = details.end.kind;
    panel.append(end, fieldRows(details.end.fields));
  }
}

async function jumpTo(target: { id: number; timeNs: number; track: number }): Promise<void> {
  const [t0, t1] = visibleRange();
  // Close enough to see the event among its neighbours, unless the view is closer already.
  centerOn(target.timeNs, Math.min(t1 - t0, Math.max(state.meta!.durationNs / 20, 1000)));
  const layout = state.layout.get(target.track);
  if (layout) {
    const visible = state.height - RULER_H;
    if (layout.top < state.scrollY || layout.top + layout.height > state.scrollY + visible) {
      state.scrollY = layout.top - visible / 3;
      clampScroll();
      scheduleFetch();
    }
  }
  await showDetails(target.id);
}

function centerOn(timeNs: number, spanNs: number): void {
  const k = Math.max(1, state.meta!.durationNs / spanNs);
  // zoom.transform does not apply the translate extent: keep the trace filling the view here.
  const tx = Math.min(0, Math.max(state.width - state.width * k, state.width / 2 - state.base(timeNs) * k));
  select(canvas).call(zoomBehavior.transform, zoomIdentity.translate(tx, 0).scale(k));
}

let searchSeq = 0;
async function runSearch(text: string): Promise<void> {
  const seq = ++searchSeq;
  const panel = $("results");
  if (!text.trim()) {
    state.highlight.clear();
    panel.hidden = true;
    draw();
    return;
  }
  const answer = await getJson<{ hits: SearchHit[]; total: number; labels: number[] }>(`api/search?q=${encodeURIComponent(text)}`);
  if (seq !== searchSeq) return;
  state.highlight = new Set(answer.labels);
  panel.hidden = false;
  panel.textContent = "";
  const h = document.createElement("h3");
  h.textContent = `${answer.total} found for “${text}”${answer.total > answer.hits.length ? ` (first ${answer.hits.length})` : ""}`;
  panel.append(h);
  for (const hit of answer.hits) panel.append(linkButton(`${hit.kind}`, hit, "search-result"));
  draw();
}

async function showTop(startNs: number, endNs: number): Promise<void> {
  const answer = await getJson<{ bySelf: { name: string; selfNs: number; totalNs: number; calls: number }[]; byTotal: { name: string; selfNs: number; totalNs: number; calls: number }[] }>(
    `api/top?start=${startNs}&end=${endNs}`,
  );
  const panel = $("top");
  panel.hidden = false;
  panel.textContent = "";
  const h = document.createElement("h3");
  h.textContent = `Range ${formatDuration(startNs)} – ${formatDuration(endNs)} (${formatDuration(endNs - startNs)})`;
  panel.append(h);
  for (const [title, list, key] of [
    ["Top functions by self time", answer.bySelf, "selfNs"],
    ["Top functions by total time", answer.byTotal, "totalNs"],
  ] as const) {
    const sub = document.createElement("h3");
    sub.textContent = title;
    const table = document.createElement("table");
    table.className = `top-${key}`;
    for (const entry of list.slice(0, 15)) {
      if (entry[key] <= 0) continue;
      const row = table.insertRow();
      const name = row.insertCell();
      name.textContent = shortName(entry.name);
      name.title = entry.name;
      const value = row.insertCell();
      value.className = "num";
      value.textContent = formatDuration(entry[key]);
      const calls = row.insertCell();
      calls.className = "num";
      calls.textContent = `${entry.calls}×`;
    }
    panel.append(sub, table);
  }
}

// ---------------------------------------------------------------------------------------
// Interaction.

function setupInteraction(): void {
  const maxK = Math.max(1, state.meta!.durationNs / (state.width * 0.05));
  zoomBehavior = d3zoom<HTMLCanvasElement, unknown>()
    .scaleExtent([1, maxK])
    .extent([
      [0, 0],
      [state.width, state.height],
    ])
    .translateExtent([
      [0, -Infinity],
      [state.width, Infinity],
    ])
    .clickDistance(4)
    // Ctrl+wheel and pinch zoom; a drag pans, unless it selects (Shift, or on the ruler).
    .filter((event: MouseEvent | WheelEvent) => {
      if (event.type === "wheel") return event.ctrlKey || event.metaKey;
      if (event.type === "mousedown") return event.button === 0 && !event.shiftKey && event.offsetY > RULER_H;
      return !event.button;
    })
    .on("zoom", (event: D3ZoomEvent<HTMLCanvasElement, unknown>) => {
      // x only: the wheel and keys never move the tracks vertically through the transform.
      applyTransform(zoomIdentity.translate(event.transform.x, 0).scale(event.transform.k));
    });
  const selection = select(canvas);
  selection.call(zoomBehavior).on("dblclick.zoom", null);

  canvas.addEventListener(
    "wheel",
    (event) => {
      if (event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      const dx = event.shiftKey ? event.deltaY || event.deltaX : event.deltaX;
      const dy = event.shiftKey ? 0 : event.deltaY;
      if (Math.abs(dx) > Math.abs(dy)) zoomBehavior.translateBy(selection, -dx / state.transform.k, 0);
      else {
        state.scrollY += dy * (event.deltaMode === 1 ? 16 : 1);
        clampScroll();
        scheduleFetch();
        draw();
      }
    },
    { passive: false },
  );

  canvas.addEventListener("mousemove", (event) => {
    state.mouseX = event.offsetX;
  });
  canvas.addEventListener("click", (event) => {
    const hit = hitTest(event.offsetX, event.offsetY);
    if (!hit) return;
    // A merged block: zoom until its slices stand apart.
    if (hit.count && hit.count > 1 && hit.span) centerOn((hit.span[0] + hit.span[1]) / 2, Math.max((hit.span[1] - hit.span[0]) * 1.5, 1000));
    else void showDetails(hit.id);
  });

  // Range selection: Shift+drag anywhere, or a drag on the ruler.
  let dragFrom: number | null = null;
  canvas.addEventListener("mousedown", (event) => {
    if (event.button !== 0 || !(event.shiftKey || event.offsetY <= RULER_H)) return;
    dragFrom = state.x.invert(event.offsetX);
    state.range = [dragFrom, dragFrom];
    event.preventDefault();
  });
  window.addEventListener("mousemove", (event) => {
    if (dragFrom === null) return;
    const rect = canvas.getBoundingClientRect();
    const t = state.x.invert(event.clientX - rect.left);
    state.range = [Math.min(dragFrom, t), Math.max(dragFrom, t)];
    draw();
  });
  window.addEventListener("mouseup", () => {
    if (dragFrom === null) return;
    dragFrom = null;
    const range = state.range!;
    if (state.x(range[1]) - state.x(range[0]) < 3) {
      state.range = null;
      $("top").hidden = true;
      draw();
      return;
    }
    void showTop(range[0], range[1]);
  });

  // W/S zoom around the mouse (or the middle), A/D pan: as in Perfetto.
  window.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return;
    const at = state.mouseX >= 0 ? state.mouseX : state.width / 2;
    const key = event.key.toLowerCase();
    if (key === "w") zoomBehavior.scaleBy(selection, 1.3, [at, 0]);
    else if (key === "s") zoomBehavior.scaleBy(selection, 1 / 1.3, [at, 0]);
    else if (key === "a") zoomBehavior.translateBy(selection, (state.width * 0.15) / state.transform.k, 0);
    else if (key === "d") zoomBehavior.translateBy(selection, (-state.width * 0.15) / state.transform.k, 0);
    else if (key === "escape") {
      state.range = null;
      state.selected = -1;
      $("top").hidden = true;
      $("details").hidden = true;
      draw();
      return;
    } else return;
    event.preventDefault();
  });

  const search = $<HTMLInputElement>("search");
  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => void runSearch(search.value), 250);
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      clearTimeout(timer);
      void runSearch(search.value);
    }
  });
  new ResizeObserver(() => resize()).observe(canvas);
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const meta = await getJson<Meta>("api/meta");
  state.meta = meta;
  document.title = `scope view: ${meta.argv.join(" ")}`;
  $("title").textContent = `${meta.argv.join(" ")} on ${meta.host}, ${meta.startTime}, ${formatDuration(meta.durationNs)}, ${meta.records.toLocaleString()} records`;
  if (meta.status.warning) {
    const banner = $("banner");
    banner.hidden = false;
    banner.textContent = meta.status.warning;
  }
  layoutTracks();
  resize();
  clampScroll();
  setupInteraction();
  applyTransform(zoomIdentity);
}

/** For the page tests: the visible range, where an event is drawn, whether a window arrived. */
(window as unknown as { scopeView: unknown }).scopeView = {
  visibleRange,
  locate,
  mergedBlock,
  hitAt: (x: number, y: number) => {
    const rect = canvas.getBoundingClientRect();
    return hitTest(x - rect.left, y - rect.top);
  },
  ready: () => state.data !== null,
  arrows: () => ({ ...arrowCount }),
  firstPaintMs: () => state.firstPaintMs,
  lastDrawMs: () => lastDrawMs,
  tracks: () => state.meta?.tracks ?? [],
};

main().catch((error: Error) => setStatus(`failed: ${error.message}`));
