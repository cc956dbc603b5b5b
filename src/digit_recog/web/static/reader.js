// Reads digits in the browser, for the static page that `digit-recog export --format web` writes: the same
// preprocessing as the server (src/digit_recog/reading/image.py, ported step by step) and the exported ONNX
// model run by onnxruntime-web. app.js calls window.readLocally(blob, name) instead of POST api/predict, and
// gets back a Response with the same JSON and status codes the server gives. On the server's page (no
// onnxruntime-web) only window.digitReader.preprocess is used: app.js sends its 28x28 result as the field
// layout, which the server checks (src/digit_recog/reading/layout.py) and reads instead of the picture.
"use strict";

(() => {
  const MODEL_URL = "static/model.onnx";
  const THRESHOLDS_URL = "static/thresholds.json"; // written beside the model when it has verdict thresholds
  const WORKING_SIZE = 1024;
  const IMAGE_SIZE = 28;
  const DIGIT_BOX_SIZE = 20;
  const DIGIT_CENTRE = 14.0;
  const MIN_CONTRAST = 32;
  const STROKE_LEVEL = 96;
  const BOX_LEVEL = 64;
  const SPECK_FRACTION = 0.05;
  const HALO_FRACTION = 0.06;
  const MIN_STROKE_FRACTION = 0.08;
  const TARGET_STROKE_FRACTION = 0.11;
  const TOP_K = 3;
  const FAR = 1e20; // "no stroke here" in the distance transform, as in Felzenszwalb and Huttenlocher's paper

  class NoDigitFound extends Error {}

  // A 2-D float image: width, height and row-major pixels.
  const image = (width, height, pixels = new Float32Array(width * height)) => ({ width, height, pixels });

  // Python's round() and NumPy's: halves go to the even neighbour (Math.round sends them up).
  function roundHalfEven(value) {
    const floor = Math.floor(value);
    const fraction = value - floor;
    if (fraction > 0.5) return floor + 1;
    if (fraction < 0.5) return floor;
    return floor % 2 === 0 ? floor : floor + 1;
  }

  // Whole grey levels 0-255 (any opaque 8-bit picture, the pad's drawing among them) are sorted by counting, in
  // one pass: the same array as sorting them, several times quicker on a 280x280 picture.
  function sorted(values) {
    const counts = new Uint32Array(256);
    for (const value of values) {
      if (!(Number.isInteger(value) && value >= 0 && value <= 255)) return Float64Array.from(values).sort();
      counts[value]++;
    }
    const result = new Float64Array(values.length);
    for (let level = 0, at = 0; level < 256; at += counts[level], level++) result.fill(level, at, at + counts[level]);
    return result;
  }

  function median(values) {
    const s = sorted(values);
    const middle = s.length >> 1;
    return s.length % 2 ? s[middle] : (s[middle - 1] + s[middle]) / 2;
  }

  function percentile(values, q) {
    const s = sorted(values);
    const position = (q / 100) * (s.length - 1);
    const low = Math.floor(position);
    const high = Math.min(low + 1, s.length - 1);
    return s[low] + (s[high] - s[low]) * (position - low);
  }

  // Reading files: grayscale pixels on a 0-255 scale, transparent areas on white (or black under light ink)

  async function decode(blob, name) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(blob);
    } catch (error) {
      throw Object.assign(new Error(`${name} is not an image the browser can read (${error.message})`), {
        status: 400,
      });
    }
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(bitmap, 0, 0);
    const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    return toGrayscale(rgba, bitmap.width, bitmap.height);
  }

  function toGrayscale(rgba, width, height) {
    const count = width * height;
    const gray = new Float32Array(count);
    const alpha = new Float32Array(count);
    let opaque = 0;
    const opaqueGray = [];
    for (let i = 0; i < count; i++) {
      const [r, g, b, a] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2], rgba[4 * i + 3]];
      gray[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16; // Pillow's convert("L")
      alpha[i] = a / 255;
      if (alpha[i] > 0.5) {
        opaque++;
        opaqueGray.push(gray[i]);
      }
    }
    const inkIsLight = opaque > 0 && opaque < count && median(opaqueGray) > 127;
    const background = inkIsLight ? 0 : 255;
    for (let i = 0; i < count; i++) gray[i] = gray[i] * alpha[i] + background * (1 - alpha[i]);
    let result = image(width, height, gray);
    if (Math.max(width, height) > WORKING_SIZE) {
      const scale = WORKING_SIZE / Math.max(width, height);
      result = resample(result, Math.max(1, roundHalfEven(width * scale)), Math.max(1, roundHalfEven(height * scale)), "box");
    }
    return result;
  }

  // Resizing as Pillow does for mode "F": separable, horizontal pass then vertical, box or bilinear filter.

  const FILTERS = {
    box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
    bilinear: { support: 1.0, weight: (x) => Math.max(0, 1 - Math.abs(x)) },
  };

  function coefficients(inSize, outSize, filter) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = filter.support * filterScale;
    const rows = [];
    for (let out = 0; out < outSize; out++) {
      const centre = (out + 0.5) * scale;
      const start = Math.max(0, Math.trunc(centre - support + 0.5));
      const stop = Math.min(inSize, Math.trunc(centre + support + 0.5));
      const weights = [];
      let total = 0;
      for (let x = start; x < stop; x++) {
        const w = filter.weight((x - centre + 0.5) / filterScale);
        weights.push(w);
        total += w;
      }
      rows.push({ start, weights: weights.map((w) => (total !== 0 ? w / total : w)) });
    }
    return rows;
  }

  function resample(source, width, height, filterName) {
    const filter = FILTERS[filterName];
    const across = coefficients(source.width, width, filter);
    const middle = image(width, source.height);
    for (let y = 0; y < source.height; y++) {
      for (let x = 0; x < width; x++) {
        const { start, weights } = across[x];
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += source.pixels[y * source.width + start + k] * weights[k];
        middle.pixels[y * width + x] = sum;
      }
    }
    const down = coefficients(source.height, height, filter);
    const result = image(width, height);
    for (let y = 0; y < height; y++) {
      const { start, weights } = down[y];
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += middle.pixels[(start + k) * width + x] * weights[k];
        result.pixels[y * width + x] = sum;
      }
    }
    return result;
  }

  // Distance transform (exact Euclidean, Felzenszwalb and Huttenlocher) with the nearest stroke pixel

  function distance1d(f, n, distances, nearest) {
    const v = new Int32Array(n);
    const z = new Float64Array(n + 1);
    let k = 0;
    z[0] = -Infinity;
    z[1] = Infinity;
    for (let q = 1; q < n; q++) {
      // z[0] is -Infinity, so this stops at k = 0 at the latest
      let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      while (s <= z[k]) {
        k--;
        s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = Infinity;
    }
    k = 0;
    for (let q = 0; q < n; q++) {
      while (z[k + 1] < q) k++;
      distances[q] = (q - v[k]) * (q - v[k]) + f[v[k]];
      nearest[q] = v[k];
    }
  }

  // For each pixel: its distance to the nearest pixel where mask is true, and that pixel's index.
  function distanceToMask(mask, width, height) {
    const columnDistance = new Float64Array(width * height);
    const columnNearest = new Int32Array(width * height);
    const f = new Float64Array(Math.max(width, height));
    const d = new Float64Array(Math.max(width, height));
    const at = new Int32Array(Math.max(width, height));
    for (let x = 0; x < width; x++) {
      for (let y = 0; y < height; y++) f[y] = mask[y * width + x] ? 0 : FAR;
      distance1d(f, height, d, at);
      for (let y = 0; y < height; y++) {
        columnDistance[y * width + x] = d[y];
        columnNearest[y * width + x] = at[y];
      }
    }
    const distance = new Float64Array(width * height);
    const nearest = new Int32Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) f[x] = columnDistance[y * width + x];
      distance1d(f, width, d, at);
      for (let x = 0; x < width; x++) {
        distance[y * width + x] = Math.sqrt(d[x]);
        nearest[y * width + x] = columnNearest[y * width + at[x]] * width + at[x];
      }
    }
    return { distance, nearest };
  }

  // From grayscale pixels to clean ink (reading/image.py: ink_image, digit_strokes)

  function otsuThreshold(pixels) {
    const counts = new Float64Array(256);
    for (const value of pixels) counts[Math.min(255, Math.max(0, Math.floor(value)))]++;
    let total = 0;
    let totalSum = 0;
    for (let level = 0; level < 256; level++) {
      total += counts[level];
      totalSum += counts[level] * level;
    }
    let best = -Infinity;
    let threshold = 0;
    let weightLow = 0;
    let sumLow = 0;
    for (let level = 0; level < 256; level++) {
      weightLow += counts[level];
      sumLow += counts[level] * level;
      const weightHigh = total - weightLow;
      let between = -1; // NumPy's nan (an empty class) counts as -1
      if (weightLow > 0 && weightHigh > 0) {
        const difference = sumLow / weightLow - (totalSum - sumLow) / weightHigh;
        between = weightLow * weightHigh * difference * difference;
      }
      if (between > best) {
        best = between;
        threshold = level;
      }
    }
    return threshold;
  }

  function borderMedian({ width, height, pixels }) {
    const border = [];
    for (let x = 0; x < width; x++) border.push(pixels[x], pixels[(height - 1) * width + x]);
    for (let y = 1; y < height - 1; y++) border.push(pixels[y * width], pixels[y * width + width - 1]);
    return median(border);
  }

  function blankMessage({ width, height, pixels }) {
    let low = Infinity;
    let high = -Infinity;
    for (const value of pixels) {
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
    return (
      `no digit found: the image (${width}x${height} pixels, grey levels ${low.toFixed(0)}-${high.toFixed(0)}) ` +
      "has no ink that stands out from the background"
    );
  }

  function inkImage(gray) {
    const { width, height } = gray;
    let pixels = gray.pixels;
    let sum = 0;
    for (const value of pixels) sum += value;
    if (borderMedian(gray) > sum / pixels.length) pixels = pixels.map((value) => 255 - value);
    const threshold = otsuThreshold(pixels);
    const backgroundPixels = [];
    const inkPixels = [];
    for (const value of pixels) (value <= threshold ? backgroundPixels : inkPixels).push(value);
    if (!inkPixels.length || !backgroundPixels.length) throw new NoDigitFound(blankMessage(gray));
    const background = median(backgroundPixels);
    const ink = percentile(inkPixels, 95);
    if (ink - background < MIN_CONTRAST) throw new NoDigitFound(blankMessage(gray));
    const noise = 1.4826 * median(backgroundPixels.map((value) => Math.abs(value - background)));
    const floor = Math.min(background + 3 * noise, threshold);
    const stretched = image(width, height, pixels.map((value) => Math.min(1, Math.max(0, (value - floor) / (ink - floor))) * 255));
    const strokes = digitStrokes(stretched);
    if (!strokes.some(Boolean)) throw new NoDigitFound(blankMessage(gray));
    // The halo radius is at least 2 px: ink touching a stroke (a drawing's antialiased edge) is always kept,
    // and the distance transform is needed only when some ink lies further away (reading/image.py does the same).
    if (!inkAwayFromStrokes(stretched, strokes)) return stretched;
    const { distance } = distanceToMask(strokes, width, height);
    const radius = haloRadius(strokes, width, height);
    return image(width, height, stretched.pixels.map((value, i) => (distance[i] <= radius ? value : 0)));
  }

  // Whether some ink lies outside the strokes grown by one pixel in all eight directions.
  function inkAwayFromStrokes({ width, height, pixels }, strokes) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (pixels[y * width + x] <= 0) continue;
        let touching = false;
        for (let dy = Math.max(-1, -y); dy <= Math.min(1, height - 1 - y) && !touching; dy++) {
          for (let dx = Math.max(-1, -x); dx <= Math.min(1, width - 1 - x); dx++) {
            if (strokes[(y + dy) * width + x + dx]) {
              touching = true;
              break;
            }
          }
        }
        if (!touching) return true;
      }
    }
    return false;
  }

  function digitStrokes({ width, height, pixels }) {
    const core = strokeMask(pixels);
    const labels = new Int32Array(width * height);
    const masses = [0];
    const stack = [];
    for (let start = 0; start < core.length; start++) {
      if (!core[start] || labels[start]) continue;
      const label = masses.length;
      let mass = 0;
      labels[start] = label;
      stack.push(start);
      while (stack.length) {
        const i = stack.pop();
        mass += pixels[i];
        const x = i % width;
        const y = (i - x) / width;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const nx = x + dx;
            const ny = y + dy;
            if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
            const j = ny * width + nx;
            if (core[j] && !labels[j]) {
              labels[j] = label;
              stack.push(j);
            }
          }
        }
      }
      masses.push(mass);
    }
    if (masses.length <= 2) return core;
    const heaviest = Math.max(...masses);
    const kept = new Uint8Array(labels.length);
    for (let i = 0; i < labels.length; i++) kept[i] = labels[i] && masses[labels[i]] >= SPECK_FRACTION * heaviest ? 1 : 0;
    return kept;
  }

  // 1 where a pixel is a stroke (at least STROKE_LEVEL bright), else 0; a plain loop, several times quicker
  // than Uint8Array.from with a callback.
  function strokeMask(pixels) {
    const mask = new Uint8Array(pixels.length);
    for (let i = 0; i < pixels.length; i++) mask[i] = pixels[i] >= STROKE_LEVEL ? 1 : 0;
    return mask;
  }

  function haloRadius(strokes, width, height) {
    let first = -1;
    let last = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (strokes[y * width + x]) {
          if (first < 0) first = y;
          last = y;
          break;
        }
      }
    }
    return Math.max(2.0, HALO_FRACTION * (last - first + 1));
  }

  // From clean ink to the MNIST layout (reading/image.py: to_mnist_layout)

  function cropWithMargin(ink) {
    const { width, height, pixels } = ink;
    let level = BOX_LEVEL;
    if (!pixels.some((value) => value >= BOX_LEVEL)) level = Number.MIN_VALUE; // then any ink at all
    let top = height;
    let bottom = -1;
    let left = width;
    let right = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (pixels[y * width + x] >= level) {
          top = Math.min(top, y);
          bottom = Math.max(bottom, y);
          left = Math.min(left, x);
          right = Math.max(right, x);
        }
      }
    }
    if (bottom < 0) throw new NoDigitFound("no digit found: the image is empty after removing the background");
    bottom += 1;
    right += 1;
    const longerSide = Math.max(bottom - top, right - left);
    const margin = Math.ceil((longerSide * (IMAGE_SIZE - DIGIT_BOX_SIZE)) / (2 * DIGIT_BOX_SIZE));
    // np.pad by margin, then rows top..bottom+2*margin and columns left..right+2*margin of the padded image
    const window = image(right - left + 2 * margin, bottom - top + 2 * margin);
    for (let y = 0; y < window.height; y++) {
      const sourceY = top + y - margin;
      if (sourceY < 0 || sourceY >= height) continue;
      for (let x = 0; x < window.width; x++) {
        const sourceX = left + x - margin;
        if (sourceX >= 0 && sourceX < width) window.pixels[y * window.width + x] = pixels[sourceY * width + sourceX];
      }
    }
    return { window, longerSide };
  }

  function thickenThinStrokes(window, longerSide) {
    const { width, height, pixels } = window;
    const strokes = strokeMask(pixels);
    let area = 0;
    let outline = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (!strokes[i]) continue;
        area++;
        // binary_erosion with the cross and a zero border: a stroke pixel with a non-stroke 4-neighbour
        const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1;
        if (edge || !(strokes[i - 1] && strokes[i + 1] && strokes[i - width] && strokes[i + width])) outline++;
      }
    }
    const strokeWidth = (2 * area) / Math.max(outline, 1);
    if (strokeWidth >= MIN_STROKE_FRACTION * longerSide) return window;
    const radius = (TARGET_STROKE_FRACTION * longerSide - strokeWidth) / 2;
    if (radius < 0.5) return window;
    const { distance, nearest } = distanceToMask(strokes, width, height);
    return image(width, height, pixels.map((value, i) => (distance[i] <= radius ? Math.max(value, pixels[nearest[i]]) : value)));
  }

  function resize(window, scale) {
    const width = Math.max(1, roundHalfEven(window.width * scale));
    const height = Math.max(1, roundHalfEven(window.height * scale));
    const resized = resample(window, width, height, scale < 1 ? "box" : "bilinear");
    let peak = 0;
    for (let i = 0; i < resized.pixels.length; i++) {
      resized.pixels[i] = Math.max(0, resized.pixels[i]);
      peak = Math.max(peak, resized.pixels[i]);
    }
    if (peak > 0) resized.pixels = resized.pixels.map((value) => value * (255 / peak));
    return resized;
  }

  function placeByCentreOfMass(digit) {
    let mass = 0;
    let rowSum = 0;
    let colSum = 0;
    for (let y = 0; y < digit.height; y++) {
      for (let x = 0; x < digit.width; x++) {
        const value = digit.pixels[y * digit.width + x];
        mass += value;
        rowSum += y * value;
        colSum += x * value;
      }
    }
    const top = roundHalfEven(DIGIT_CENTRE - rowSum / mass);
    const left = roundHalfEven(DIGIT_CENTRE - colSum / mass);
    const field = new Uint8Array(IMAGE_SIZE * IMAGE_SIZE);
    for (let y = Math.max(top, 0); y < Math.min(top + digit.height, IMAGE_SIZE); y++) {
      for (let x = Math.max(left, 0); x < Math.min(left + digit.width, IMAGE_SIZE); x++) {
        const value = digit.pixels[(y - top) * digit.width + (x - left)];
        field[y * IMAGE_SIZE + x] = roundHalfEven(Math.min(255, Math.max(0, value)));
      }
    }
    return field;
  }

  function toMnistLayout(ink) {
    let { window, longerSide } = cropWithMargin(ink);
    ({ window, longerSide } = cropWithMargin(thickenThinStrokes(window, longerSide)));
    return placeByCentreOfMass(resize(window, DIGIT_BOX_SIZE / longerSide));
  }

  // Reading: the model, and the JSON the server would send

  let session = null;
  function modelSession() {
    if (!session) {
      ort.env.wasm.wasmPaths = new URL("static/ort/", document.baseURI).href;
      ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which a plain static host lacks
      session = ort.InferenceSession.create(MODEL_URL, { executionProviders: ["wasm"] });
    }
    return session;
  }

  async function predict(pixels) {
    const model = await modelSession();
    const input = new ort.Tensor("float32", Float32Array.from(pixels), [1, IMAGE_SIZE, IMAGE_SIZE, 1]);
    const outputs = await model.run({ [model.inputNames[0]]: input });
    return Array.from(outputs[model.outputNames[0]].data);
  }

  function pngDataUrl(pixels) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = IMAGE_SIZE;
    const context = canvas.getContext("2d");
    const picture = context.createImageData(IMAGE_SIZE, IMAGE_SIZE);
    pixels.forEach((value, i) => picture.data.set([value, value, value, 255], 4 * i));
    context.putImageData(picture, 0, 0);
    return canvas.toDataURL("image/png");
  }

  const rounded = (p) => Math.round(p * 1e6) / 1e6;

  async function preprocess(blob, name) {
    return toMnistLayout(inkImage(await decode(blob, name)));
  }

  async function readLocally(blob, name = "image") {
    let pixels;
    try {
      pixels = await preprocess(blob, name);
    } catch (error) {
      const status = error instanceof NoDigitFound ? 422 : error.status || 500;
      const detail = error instanceof NoDigitFound ? `${name}: ${error.message}` : error.message;
      return new Response(JSON.stringify({ detail }), { status, headers: { "Content-Type": "application/json" } });
    }
    const probabilities = await predict(pixels);
    const ranked = probabilities.map((p, digit) => ({ digit, probability: rounded(p) }));
    ranked.sort((a, b) => b.probability - a.probability || a.digit - b.digit);
    const body = {
      digit: probabilities.indexOf(Math.max(...probabilities)),
      verdict: verdictOf(probabilities, await thresholds()),
      probabilities: probabilities.map(rounded),
      top: ranked.slice(0, TOP_K),
      preprocessed: pngDataUrl(pixels),
    };
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  }

  let thresholdsLoaded = null;
  // The thresholds the server uses (src/digit_recog/reading/verdict.py); none: every reading is a "digit".
  function thresholds() {
    thresholdsLoaded ??= fetch(THRESHOLDS_URL)
      .then((response) => (response.ok ? response.json() : null))
      .catch(() => null);
    return thresholdsLoaded;
  }

  function verdictOf(probabilities, limits) {
    if (!limits) return "digit";
    const top = Math.max(...probabilities);
    if (top < limits.not_a_digit_below) return "not a digit";
    return top < limits.unsure_below ? "unsure" : "digit";
  }

  // On the static page onnxruntime-web is loaded first and the page reads digits itself; on the server's page
  // only the preprocessing is used, to send the server the drawing's 28x28 layout beside the picture.
  if (typeof ort !== "undefined") window.readLocally = readLocally;
  window.digitReader = { preprocess, predict, readLocally };
})();
