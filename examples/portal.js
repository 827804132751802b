// The portal's side of the iframe protocol (docs/embedding.md): size each
// frame to the height it reports, log what it says, switch its theme.
const consoleOrigin = "http://127.0.0.1:8080";
const frames = [...document.querySelectorAll("iframe")];

addEventListener("message", (event) => {
  // Only the console's origin, only its own frames, only its messages.
  if (event.origin !== consoleOrigin || event.data?.source !== "allocation-console") return;
  const frame = frames.find((f) => f.contentWindow === event.source);
  if (!frame) return;
  const message = event.data;
  if (message.type === "resize") frame.style.height = `${message.height}px`;
  if (message.type === "allocated") console.info("granted", message.allocation.id);
  if (message.type === "released") console.info("released", message.id);
  if (message.type === "error") console.warn("console error", message.problem.title);
  // A portal with a signed-in user would answer `ready` with
  // {type: "token", token} here: kept in the console's memory only.
});

let dark = false;
document.getElementById("theme").addEventListener("click", (event) => {
  dark = !dark;
  event.target.textContent = dark ? "Light theme for the iframes" : "Dark theme for the iframes";
  for (const frame of frames) {
    frame.contentWindow.postMessage({ type: "theme", theme: dark ? "dark" : "light" }, consoleOrigin);
  }
});
