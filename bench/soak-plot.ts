// The soak's plot: stacked panels of time series over a shared time axis, drawn into a PNG (pngjs) with a built-in bitmap font.
import { PNG } from 'pngjs';

import { GLYPH_HEIGHT, textPixels, textWidth } from './soak-font.js';

export type Rgb = readonly [number, number, number];

export interface Series {
  readonly name: string;
  readonly color: Rgb;
  /** [minutes, value]; NaN values leave a gap. */
  readonly points: readonly (readonly [number, number])[];
  /** A flat reference line (e.g. the target rate) instead of a measured series. */
  readonly dashed?: boolean;
}

export interface Panel {
  readonly title: string;
  readonly series: readonly Series[];
  /** Lower end of the y axis (default 0). */
  readonly yMin?: number;
}

const WIDTH = 1100;
const PANEL_HEIGHT = 230;
const MARGIN = { left: 90, right: 30, top: 46, bottom: 20, gap: 56 };
const SCALE = 2; // font pixels → image pixels
const BLACK: Rgb = [30, 30, 30];
const GRID: Rgb = [225, 225, 225];
const AXIS: Rgb = [120, 120, 120];

/** 1, 2 or 5 × a power of ten: ticks a reader can add up. */
function niceStep(range: number, count: number): number {
  const raw = range / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

const label = (value: number, step: number): string =>
  step >= 1 ? String(Math.round(value)) : value.toFixed(Math.min(3, Math.ceil(-Math.log10(step))));

class Canvas {
  readonly png: PNG;
  constructor(readonly width: number, readonly height: number) {
    this.png = new PNG({ width, height });
    this.png.data.fill(255);
  }

  set(x: number, y: number, [r, g, b]: Rgb): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    const i = (yi * this.width + xi) * 4;
    this.png.data[i] = r;
    this.png.data[i + 1] = g;
    this.png.data[i + 2] = b;
    this.png.data[i + 3] = 255;
  }

  rect(x: number, y: number, w: number, h: number, color: Rgb): void {
    for (let dy = 0; dy < h; dy++) for (let dx = 0; dx < w; dx++) this.set(x + dx, y + dy, color);
  }

  /** A line `thickness` pixels wide; `dash` draws every other 8 px. */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1, dash = false): void {
    const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0)));
    const half = Math.floor(thickness / 2);
    for (let s = 0; s <= steps; s++) {
      if (dash && Math.floor(s / 8) % 2 === 1) continue;
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      for (let dx = -half; dx < thickness - half; dx++) for (let dy = -half; dy < thickness - half; dy++) this.set(x + dx, y + dy, color);
    }
  }

  text(x: number, y: number, text: string, color: Rgb, scale = SCALE): void {
    for (const p of textPixels(text)) this.rect(x + p.x * scale, y + p.y * scale, scale, scale, color);
  }
}

/** Draw the panels, one under the other, over the same minutes on the x axis. */
export function plotPng(title: string, panels: readonly Panel[]): Buffer {
  const height = MARGIN.top + panels.length * (PANEL_HEIGHT + MARGIN.gap) + MARGIN.bottom;
  const c = new Canvas(WIDTH, height);
  c.text(MARGIN.left, 12, title, BLACK);

  const xs = panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x)));
  const xMax = Math.max(1 / 60, ...xs);
  const xStep = niceStep(xMax, 10);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const px = (x: number) => MARGIN.left + (x / xMax) * plotW;

  panels.forEach((panel, index) => {
    const top = MARGIN.top + index * (PANEL_HEIGHT + MARGIN.gap) + 24;
    const plotH = PANEL_HEIGHT - 24;
    const values = panel.series.flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite);
    const yMin = panel.yMin ?? 0;
    const yTop = Math.max(yMin + 1e-9, ...values);
    const yStep = niceStep(yTop - yMin, 5);
    const yMax = Math.ceil(yTop / yStep) * yStep;
    const py = (y: number) => top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;

    // Title and legend, each series in its colour.
    c.text(MARGIN.left, top - 24, panel.title, BLACK);
    let lx = MARGIN.left + (textWidth(panel.title) + 4) * SCALE;
    for (const s of panel.series) {
      c.rect(lx, top - 24 + GLYPH_HEIGHT - 2, 18, 4, s.color);
      c.text(lx + 24, top - 24, s.name, s.color);
      lx += 24 + (textWidth(s.name) + 4) * SCALE;
    }
    // Grid, axes and tick labels.
    for (let y = yMin; y <= yMax + yStep / 2; y += yStep) {
      c.line(MARGIN.left, py(y), WIDTH - MARGIN.right, py(y), GRID);
      const text = label(y, yStep);
      c.text(MARGIN.left - 8 - textWidth(text) * SCALE, py(y) - GLYPH_HEIGHT, text, AXIS);
    }
    for (let x = 0; x <= xMax + 1e-9; x += xStep) {
      c.line(px(x), top, px(x), top + plotH, GRID);
      const text = label(x, xStep);
      // The first label starts at the axis, clear of the y axis' own 0.
      c.text(x === 0 ? px(x) + 4 : px(x) - (textWidth(text) * SCALE) / 2, top + plotH + 6, text, AXIS);
    }
    c.line(MARGIN.left, top, MARGIN.left, top + plotH, AXIS);
    c.line(MARGIN.left, top + plotH, WIDTH - MARGIN.right, top + plotH, AXIS);
    // The series.
    for (const s of panel.series) {
      let prev: readonly [number, number] | undefined;
      for (const point of s.points) {
        if (!Number.isFinite(point[1])) {
          prev = undefined;
          continue;
        }
        if (prev) c.line(px(prev[0]), py(prev[1]), px(point[0]), py(point[1]), s.color, 2, s.dashed);
        else c.rect(px(point[0]) - 1, py(point[1]) - 1, 2, 2, s.color);
        prev = point;
      }
    }
  });
  c.text(WIDTH - MARGIN.right - textWidth('MINUTES') * SCALE, height - MARGIN.bottom - 4, 'MINUTES', AXIS);
  return PNG.sync.write(c.png);
}
