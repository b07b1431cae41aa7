/**
 * The `scope view` page in a real headless Chromium (Debian's chromium, installed by
 * scripts/chromium-install.sh; driven by playwright-core) on a trace recorded by a real
 * `scope run`: the tracks are there, a search finds a known function, clicking a message
 * shows its receive, zooming changes the visible range, a damaged trace says so. A
 * screenshot of each state goes to spec/.artifacts/view/.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { repoRoot } from "./harness";
import { recordViewTraces, type ViewTraces } from "./view-harness";
import { TraceIndex } from "../src/view/index";
import { startViewServer, type ViewServer } from "../src/view/server";

const chromiumPath = "/usr/bin/chromium";
const artifacts = join(repoRoot, "spec/.artifacts/view");

interface ScopeView {
  visibleRange(): [number, number];
  locate(id: number): { x: number; y: number } | null;
  mergedBlock(): { x: number; y: number } | null;
  ready(): boolean;
  arrows(): { drawn: number; hidden: number };
}

let traces: ViewTraces;
let browser: Browser;
let server: ViewServer;
let damagedServer: ViewServer;
let messagesServer: ViewServer;

beforeAll(async () => {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: run scripts/chromium-install.sh`);
  mkdirSync(artifacts, { recursive: true });
  traces = await recordViewTraces();
  server = await startViewServer(TraceIndex.open(traces.trace));
  damagedServer = await startViewServer(TraceIndex.open(traces.damaged));
  messagesServer = await startViewServer(TraceIndex.open(traces.messages));
  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await damagedServer?.stop();
  await messagesServer?.stop();
  if (traces) rmSync(traces.dir, { recursive: true, force: true });
});

async function openPage(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url);
  await page.waitForSelector('body[data-painted="1"]', { state: "attached", timeout: 60_000 });
  expect(errors).toEqual([]);
  return page;
}

const range = (page: Page) => page.evaluate(() => (globalThis as unknown as { scopeView: ScopeView }).scopeView.visibleRange());

describe("scope view page (Chromium)", () => {
  test("opens with a track per process and thread, grouped by process", async () => {
    const page = await openPage(server.url);
    const groups = await page.locator(".group-label").allTextContents();
    expect(groups.some((text) => text.endsWith(": node app.cjs"))).toBe(true);
    expect(groups.some((text) => text.endsWith(": node app.cjs child"))).toBe(true);
    const tracks = await page.locator(".track-label").allTextContents();
    expect(tracks).toContain("main");
    expect(tracks).toContain("main · async");
    expect(tracks).toContain("main · requests");
    expect(tracks.some((text) => /^worker \d+$/.test(text))).toBe(true);
    expect(await page.locator("#banner").isHidden()).toBe(true);
    await page.screenshot({ path: join(artifacts, "1-opened.png") });
    // Calls smaller than a pixel are drawn as merged blocks; clicking one zooms into it.
    const block = (await page.evaluate(() => (globalThis as unknown as { scopeView: ScopeView }).scopeView.mergedBlock()))!;
    expect(block).not.toBeNull();
    const before = await range(page);
    await page.mouse.click(block.x, block.y);
    const after = await range(page);
    expect(after[1] - after[0]).toBeLessThan((before[1] - before[0]) / 2);
    await page.close();
  }, 90_000);

  test("a search lists a known function and highlights it", async () => {
    const page = await openPage(server.url);
    await page.fill("#search", "computeTotals");
    await page.press("#search", "Enter");
    await page.locator(".search-result").first().waitFor();
    const results = await page.locator(".search-result").allTextContents();
    expect(results.length).toBeGreaterThanOrEqual(5);
    expect(results.every((text) => text.includes("computeTotals"))).toBe(true);
    // A result jumps there and shows the call's details.
    await page.locator(".search-result").first().click();
    await page.waitForSelector('#details[data-kind="function_call"]');
    expect(await page.locator("#details h3").first().textContent()).toContain("computeTotals");
    await page.screenshot({ path: join(artifacts, "2-search.png") });
    await page.close();
  }, 90_000);

  test("clicking a message on the timeline shows its receive", async () => {
    const page = await openPage(server.url);
    const found = (await (await fetch(`${server.url}api/search?q=${encodeURIComponent('"question"')}`)).json()) as { hits: { id: number; kind: string }[] };
    const send = found.hits.find((hit) => hit.kind === "send")!;
    expect(send).toBeDefined();
    // Bring it into view (a search result jumps there), then click the mark itself on the canvas.
    await page.fill("#search", '"question"');
    await page.press("#search", "Enter");
    await page.locator(".search-result", { hasText: "send" }).first().click();
    await page.keyboard.press("Escape");
    await page.waitForFunction((id) => (globalThis as unknown as { scopeView: ScopeView }).scopeView.locate(id) !== null, send.id);
    const at = (await page.evaluate((id) => (globalThis as unknown as { scopeView: ScopeView }).scopeView.locate(id), send.id))!;
    await page.mouse.click(at.x, at.y);
    await page.waitForSelector(`#details[data-kind="message_send"][data-id="${send.id}"]`);
    const link = page.locator("#details .link", { hasText: "received by:" });
    expect(await link.count()).toBe(1);
    await page.screenshot({ path: join(artifacts, "3-message-send.png") });
    await link.click();
    await page.waitForSelector('#details[data-kind="message_receive"]');
    // The view moved there: the receive is drawn (the window around it has arrived).
    const receiveId = Number(await page.getAttribute("#details", "data-id"));
    await page.waitForFunction((id) => (globalThis as unknown as { scopeView: ScopeView }).scopeView.locate(id) !== null, receiveId);
    const details = await page.locator("#details").textContent();
    expect(details).toContain("sent by:");
    expect(details).toContain("handled by:");
    expect(details).toContain("handleWorkerMessage");
    expect(details).toContain("sum of the ultimate rounds");
    await page.screenshot({ path: join(artifacts, "4-message-receive.png") });
    await page.close();
  }, 90_000);

  test("W zooms in, S zooms out, D pans, Ctrl+wheel zooms; a ruler drag lists top functions", async () => {
    const page = await openPage(server.url);
    const canvas = page.locator("#canvas");
    const box = (await canvas.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + 200);
    const before = await range(page);
    for (let i = 0; i < 6; i++) await page.keyboard.press("w");
    const zoomed = await range(page);
    expect(zoomed[1] - zoomed[0]).toBeLessThan((before[1] - before[0]) / 4);
    await page.keyboard.press("d");
    const panned = await range(page);
    expect(panned[0]).toBeGreaterThan(zoomed[0]);
    expect(panned[1] - panned[0]).toBeCloseTo(zoomed[1] - zoomed[0], -3);
    await page.keyboard.press("s");
    const out = await range(page);
    expect(out[1] - out[0]).toBeGreaterThan(panned[1] - panned[0]);
    await page.keyboard.down("Control");
    await page.mouse.wheel(0, -300);
    await page.keyboard.up("Control");
    await page.waitForFunction((span) => {
      const [a, b] = (globalThis as unknown as { scopeView: ScopeView }).scopeView.visibleRange();
      return b - a < span;
    }, out[1] - out[0]);
    await page.waitForFunction(() => (globalThis as unknown as { scopeView: ScopeView }).scopeView.ready());
    await page.screenshot({ path: join(artifacts, "5-zoomed.png") });
    // Back to the whole trace, then select most of it on the ruler.
    for (let i = 0; i < 40; i++) await page.keyboard.press("s");
    expect((await range(page))[1] - (await range(page))[0]).toBeCloseTo(before[1] - before[0], -3);
    await page.mouse.move(box.x + 5, box.y + 10);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width - 5, box.y + 10, { steps: 5 });
    await page.mouse.up();
    await page.locator("#top table.top-selfNs tr").first().waitFor();
    expect(await page.locator("#top").textContent()).toContain("fibonacciLeaf");
    await page.screenshot({ path: join(artifacts, "6-range.png") });
    await page.close();
  }, 90_000);

  test("arrows too many to tell apart are not drawn until zoomed in; a selected message's always are", async () => {
    const page = await openPage(messagesServer.url);
    const view = () => page.evaluate(() => (globalThis as unknown as { scopeView: ScopeView }).scopeView.arrows());
    // The whole run: 800 arrows over ~0.5 s would cover every track (a service's opening view).
    const whole = await view();
    expect(whole.drawn).toBe(0);
    expect(whole.hidden).toBeGreaterThanOrEqual(700);
    expect(await page.locator("#arrows").textContent()).toContain(`${whole.hidden} arrows hidden`);
    await page.screenshot({ path: join(artifacts, "8-arrows-hidden.png") });
    // A send chosen from a search (the view jumps there and selects it), then zoomed in around
    // it: the few arrows in view are drawn and the note is gone.
    await page.fill("#search", "job");
    await page.press("#search", "Enter");
    const results = page.locator(".search-result", { hasText: "send" });
    await results.first().waitFor();
    await results.nth(Math.floor((await results.count()) / 2)).click();
    await page.waitForSelector('#details[data-kind="message_send"]');
    const sendId = Number(await page.getAttribute("#details", "data-id"));
    const box = (await page.locator("#canvas").boundingBox())!;
    await page.locator("#canvas").focus();
    await page.mouse.move(box.x + box.width / 2, box.y + 60);
    for (let i = 0; i < 40 && (await view()).hidden > 0; i++) await page.keyboard.press("w");
    await page.waitForFunction(() => (globalThis as unknown as { scopeView: ScopeView }).scopeView.ready());
    // The selected send's arrow and its neighbours'.
    await page.waitForFunction(() => (globalThis as unknown as { scopeView: ScopeView }).scopeView.arrows().drawn > 1);
    const zoomed = await view();
    expect(zoomed.hidden).toBe(0);
    expect(await page.locator("#arrows").textContent()).toBe("");
    await page.screenshot({ path: join(artifacts, "9-arrows-zoomed.png") });
    // Zoomed back out, the selected send keeps its arrow.
    for (let i = 0; i < 40; i++) await page.keyboard.press("s");
    // (once the whole run's window has arrived)
    await page.waitForFunction(() => (globalThis as unknown as { scopeView: ScopeView }).scopeView.arrows().hidden >= 700);
    const selected = await view();
    expect(selected.drawn).toBe(1);
    expect(await page.locator("#arrows").textContent()).toContain(`${selected.hidden} arrows hidden`);
    expect(await page.getAttribute("#details", "data-id")).toBe(String(sendId));
    await page.screenshot({ path: join(artifacts, "10-arrows-selected.png") });
    await page.close();
  }, 90_000);

  test("a damaged trace opens with what is valid and says so on the page", async () => {
    const page = await openPage(damagedServer.url);
    expect(await page.locator("#banner").isVisible()).toBe(true);
    expect(await page.locator("#banner").textContent()).toContain("damaged");
    expect(await page.locator(".track-label").count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(artifacts, "7-damaged.png") });
    await page.close();
  }, 90_000);
});
