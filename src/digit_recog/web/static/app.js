// The drawing pad: pointer events (mouse, touch and pen alike) draw thick round black strokes on white;
// lifting the pen, uploading a file or pressing Predict sends the picture to POST api/predict (or, on the static
// page, to window.readLocally from reader.js). A drawing goes with its 28x28 layout, preprocessed here by
// reader.js, which the server reads instead of decoding and cleaning the picture again.
"use strict";

const STROKE_WIDTH = 22; // in canvas pixels; about MNIST's stroke-to-digit ratio for a digit 3/4 of the box high

const canvas = document.getElementById("pad");
const context = canvas.getContext("2d");
const digitOutput = document.getElementById("digit");
const verdictLine = document.getElementById("verdict");
const topList = document.getElementById("top");
const seenImage = document.getElementById("seen");
const statusLine = document.getElementById("status");
const uploadInput = document.getElementById("upload");

let drawing = false;
let lastPoint = null;
let hasInk = false;
let latestRequest = 0; // answers to older requests are ignored when a newer one was sent

function clearPad() {
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  hasInk = false;
  showResult(null);
  setStatus("");
}

function canvasPoint(event) {
  const box = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) * canvas.width) / box.width,
    y: ((event.clientY - box.top) * canvas.height) / box.height,
  };
}

function strokeTo(point) {
  context.strokeStyle = "#000";
  context.lineWidth = STROKE_WIDTH;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.beginPath();
  context.moveTo(lastPoint.x, lastPoint.y);
  context.lineTo(point.x, point.y);
  context.stroke();
  lastPoint = point;
  hasInk = true;
}

canvas.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  drawing = true;
  lastPoint = canvasPoint(event);
  strokeTo(lastPoint); // a tap leaves a dot
});

canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const coalesced = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const sample of coalesced.length ? coalesced : [event]) strokeTo(canvasPoint(sample));
});

function endStroke() {
  if (!drawing) return;
  drawing = false;
  predictDrawing();
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);

function predictDrawing() {
  if (!hasInk) {
    setStatus("Draw a digit first.", true);
    return;
  }
  send(canvasPng(), "drawing.png", { withLayout: true });
}

// The pad as a PNG file. toDataURL encodes at once, where toBlob waits for the browser to be idle: after pen
// input, headless Chromium held it for a second.
function canvasPng() {
  const base64 = canvas.toDataURL("image/png").split(",", 2)[1];
  return new Blob([Uint8Array.from(atob(base64), (character) => character.charCodeAt(0))], { type: "image/png" });
}

// The drawing's 28x28 layout as the server's preprocessing would make it, or null (no reader.js, no ink):
// then the server preprocesses the picture itself.
async function layoutOf(blob, name) {
  if (!window.digitReader) return null;
  try {
    return new Blob([await window.digitReader.preprocess(blob, name)], { type: "application/octet-stream" });
  } catch {
    return null;
  }
}

async function send(blob, name, { withLayout = false } = {}) {
  const request = ++latestRequest;
  setStatus("Reading…");
  document.body.dataset.state = "busy";
  try {
    // The static page (`digit-recog export --format web`) has no server: reader.js reads in the browser.
    const response = window.readLocally
      ? await window.readLocally(blob, name)
      : await post(blob, name, withLayout ? await layoutOf(blob, name) : null);
    const body = await response.json().catch(() => ({}));
    if (request !== latestRequest) return;
    if (!response.ok) {
      showResult(null);
      setStatus(describeError(response.status, body), true);
    } else {
      showResult(body);
      setStatus("");
    }
  } catch (error) {
    if (request === latestRequest) setStatus(`Could not reach the server (${error.message}).`, true);
  } finally {
    if (request === latestRequest) document.body.dataset.state = "idle";
  }
}

function post(blob, name, layout) {
  const form = new FormData();
  form.append("image", blob, name);
  if (layout) form.append("layout", layout, "layout.raw");
  return fetch("api/predict", { method: "POST", body: form });
}

function describeError(status, body) {
  const detail = typeof body.detail === "string" ? body.detail : `HTTP ${status}`;
  if (status === 422) return "No digit found: draw or upload a digit.";
  return detail;
}

// What the verdict (src/digit_recog/reading/verdict.py) means, in words.
function describeVerdict(result) {
  if (result.verdict === "not a digit") return "This does not look like a digit.";
  if (result.verdict === "unsure") return `Not sure: it looks most like a ${result.digit}.`;
  return "";
}

function showResult(result) {
  topList.replaceChildren();
  if (!result) {
    digitOutput.textContent = "–";
    verdictLine.textContent = "";
    seenImage.hidden = true;
    return;
  }
  digitOutput.textContent = result.verdict === "not a digit" ? "–" : String(result.digit);
  verdictLine.textContent = describeVerdict(result);
  document.body.dataset.verdict = result.verdict || "digit";
  for (const { digit, probability } of result.top) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    const track = document.createElement("span");
    const bar = document.createElement("span");
    const value = document.createElement("span");
    label.className = "digit";
    label.textContent = digit;
    track.className = "track";
    bar.className = "bar";
    bar.style.width = `${(probability * 100).toFixed(1)}%`;
    value.className = "value";
    value.textContent = `${(probability * 100).toFixed(1)}%`;
    track.append(bar);
    item.append(label, track, value);
    topList.append(item);
  }
  seenImage.src = result.preprocessed;
  seenImage.hidden = false;
}

function setStatus(message, isError = false) {
  statusLine.textContent = message;
  statusLine.classList.toggle("error", isError);
}

function showUpload(file) {
  // Draw the uploaded picture into the pad (fitted, centred) so you see what was sent.
  const url = URL.createObjectURL(file);
  const picture = new Image();
  picture.onload = () => {
    clearPad();
    const scale = Math.min(canvas.width / picture.width, canvas.height / picture.height);
    const width = picture.width * scale;
    const height = picture.height * scale;
    context.drawImage(picture, (canvas.width - width) / 2, (canvas.height - height) / 2, width, height);
    hasInk = true;
    URL.revokeObjectURL(url);
  };
  picture.src = url;
}

uploadInput.addEventListener("change", () => {
  const file = uploadInput.files[0];
  if (!file) return;
  showUpload(file);
  send(file, file.name);
  uploadInput.value = ""; // choosing the same file again still triggers a prediction
});

document.getElementById("clear").addEventListener("click", clearPad);
document.getElementById("predict").addEventListener("click", predictDrawing);

clearPad();
document.body.dataset.state = "idle";
