// A small bar chart drawn as inline SVG (no library): one bar a month, the value over it.
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  if (text !== undefined) el.textContent = text;
  return el;
}

// bars: [{label, value, valueText, spoken}]; title: what the chart shows (screen readers hear
// it with every bar's spoken value).
export function barChart(bars, title) {
  const width = 320;
  const height = 160;
  const top = 18;
  const bottom = 22;
  const slot = width / Math.max(bars.length, 1);
  const max = Math.max(1, ...bars.map((b) => b.value));
  const summary = bars.map((b) => `${b.label} ${b.spoken}`).join(", ");
  const chart = svg("svg", {
    class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `${title}: ${summary}`,
  });
  chart.append(svg("title", {}, title));
  chart.append(svg("line", { class: "axis", x1: 0, x2: width, y1: height - bottom, y2: height - bottom }));
  bars.forEach((bar, i) => {
    const barHeight = Math.round(((height - top - bottom) * bar.value) / max);
    const x = i * slot + slot * 0.2;
    const y = height - bottom - barHeight;
    chart.append(svg("rect", {
      class: "bar", x, y, width: slot * 0.6, height: barHeight, rx: 3, "data-value": bar.value,
    }));
    chart.append(svg("text", { x: i * slot + slot / 2, y: height - 6, "text-anchor": "middle" }, bar.label));
    if (bar.value) {
      chart.append(svg("text", { x: i * slot + slot / 2, y: y - 4, "text-anchor": "middle" }, bar.valueText));
    }
  });
  return chart;
}
