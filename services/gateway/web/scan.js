// Reading a QR code with the phone: a photo (works everywhere, plain HTTP included: the phone's
// camera app takes it) or, in a secure context only (HTTPS or localhost), the live camera.
// jsQR (web/vendor/, see its README) decodes the pixels; the caller gets the text it read.
import { addWords, t } from "./i18n.js";
import { h } from "./ui.js";

addWords({
  zh: {
    "scan.photo": "拍照扫码",
    "scan.camera": "用摄像头扫码",
    "scan.stop": "停止扫码",
    "scan.reading": "正在识别…",
    "scan.looking": "请把二维码对准取景框",
    "scan.read": "已识别二维码",
    "scan.none": "没有识别到二维码，请对准后重拍",
    "scan.no_camera": "无法打开摄像头，请改用拍照扫码",
    "scan.video": "摄像头画面",
  },
  en: {
    "scan.photo": "Scan a photo",
    "scan.camera": "Scan with the camera",
    "scan.stop": "Stop scanning",
    "scan.reading": "Reading…",
    "scan.looking": "Hold the QR code inside the frame",
    "scan.read": "QR code read",
    "scan.none": "No QR code found; aim at it and take the photo again",
    "scan.no_camera": "The camera could not be opened; take a photo instead",
    "scan.video": "Camera view",
  },
});

const JSQR_URL = "./vendor/jsqr-1.4.0/jsQR.js";
// A phone's photo has 12 million pixels; a QR code filling part of it still reads at these
// sizes (the longest side), smallest first because it is much faster.
const PHOTO_SIZES = [1024, 2048];

let decoderLoading = null;

// The decoder is 250 kB: fetched the first time someone scans, not with the page.
async function decoder() {
  decoderLoading ??= import(JSQR_URL).then(() => self.jsQR); // a UMD bundle: it sets self.jsQR
  return decoderLoading;
}

function pixels(source, width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(source, 0, 0, width, height);
  return context.getImageData(0, 0, width, height);
}

// The text of the QR code in an image file, or null when none is found.
export async function readImageFile(file) {
  const jsQR = await decoder();
  const image = await createImageBitmap(file);
  try {
    const longest = Math.max(image.width, image.height);
    const sizes = PHOTO_SIZES.filter((size) => size < longest).concat(
      Math.min(longest, PHOTO_SIZES[PHOTO_SIZES.length - 1]));
    for (const size of new Set(sizes)) {
      const scale = size / longest;
      const width = Math.round(image.width * scale);
      const height = Math.round(image.height * scale);
      const found = jsQR(pixels(image, width, height).data, width, height);
      if (found && found.data) return found.data;
    }
    return null;
  } finally {
    image.close();
  }
}

export function cameraAvailable() {
  return Boolean(window.isSecureContext && navigator.mediaDevices?.getUserMedia);
}

// The live camera: frames decoded until one holds a QR code, then the stream is stopped. It is
// stopped too when the person stops it or leaves the page.
function liveScan(box, status, onText, onStop) {
  const video = h("video", { muted: true, playsinline: true, autoplay: true,
    "aria-label": t("scan.video"), class: "scan-video" });
  let stream = null;
  let stopped = false;
  const stop = () => {
    stopped = true;
    stream?.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
    box.replaceChildren();
    window.removeEventListener("hashchange", stop);
    onStop();
  };
  const stopButton = h("button", { type: "button", "data-action": "scan-stop", onclick: stop },
    t("scan.stop"));
  window.addEventListener("hashchange", stop);
  const frame = (jsQR) => {
    if (stopped) return;
    if (!video.isConnected) { stop(); return; }
    const { videoWidth: width, videoHeight: height } = video;
    if (width && height) {
      const found = jsQR(pixels(video, width, height).data, width, height,
        { inversionAttempts: "dontInvert" });
      if (found && found.data) {
        stop();
        status.textContent = t("scan.read");
        onText(found.data);
        return;
      }
    }
    requestAnimationFrame(() => frame(jsQR));
  };
  return async () => {
    status.className = "muted";
    status.textContent = t("scan.looking");
    try {
      const [jsQR, media] = await Promise.all([decoder(),
        navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })]);
      stream = media;
      if (stopped) { stop(); return; }
      video.srcObject = stream;
      box.replaceChildren(video, stopButton);
      await video.play();
      frame(jsQR);
    } catch (error) {
      stop();
      status.className = "notice-bad";
      status.textContent = t("scan.no_camera");
    }
  };
}

// The scan buttons: a photo, and the live camera where the browser allows it. onText(text) gets
// what the QR code says; the caller decides what it means.
export function scanButton(onText) {
  const status = h("p", { role: "status", "data-scan-status": "" });
  const input = h("input", { type: "file", accept: "image/*", capture: "environment",
    class: "visually-hidden", "data-scan-photo": "" });
  input.addEventListener("change", async () => {
    const file = input.files && input.files[0];
    input.value = ""; // the same photo chosen again is a new change
    if (!file) return;
    status.className = "muted";
    status.textContent = t("scan.reading");
    let text = null;
    try {
      text = await readImageFile(file);
    } catch {
      text = null; // not an image the browser can open
    }
    status.className = text ? "notice-ok" : "notice-bad";
    status.textContent = t(text ? "scan.read" : "scan.none");
    if (text) onText(text);
  });
  const live = h("div", { class: "scan-live" });
  const cameraButton = cameraAvailable() ? h("button", {
    type: "button", "data-action": "scan-camera",
    onclick: () => {
      cameraButton.disabled = true; // one stream at a time
      liveScan(live, status, onText, () => { cameraButton.disabled = false; })();
    },
  }, t("scan.camera")) : null;
  return h("div", { class: "scan", "data-scan": "" },
    h("div", { class: "scan-buttons" },
      h("label", { class: "button" }, t("scan.photo"), input),
      cameraButton),
    live, status);
}
