// The allocation console's script embed (docs/embedding.md). A portal
// includes only this file, at its stable name beside the console:
//   <script type="module" src="https://console.example/embed.js"></script>
// and every element marked `data-allocation-console`, and every
// <allocation-console>, becomes a console with its own data-* settings.
// The build (scripts/trunk-post-build) fills in the hashed file names; they
// are resolved beside this module, so it works from any origin the console's
// server allows by CORS.
const base = new URL("./", import.meta.url);
const stylesheet = new URL("__CONSOLE_CSS__", base).href;
const fullConsole = base.href;
const bindings = import(new URL("__CONSOLE_JS__", base).href).then(async (module) => {
  await module.default({ module_or_path: new URL("__CONSOLE_WASM__", base) });
  return module;
});

// Element -> its mounted console (null while the wasm is loading).
const mounted = new Map();

async function mount(element) {
  if (mounted.has(element)) return;
  mounted.set(element, null);
  const module = await bindings;
  if (!mounted.has(element)) return; // removed while loading
  mounted.set(element, module.mountConsole(element, stylesheet, fullConsole));
}

function unmount(element) {
  const instance = mounted.get(element);
  mounted.delete(element);
  if (instance) instance.free(); // unmounts it; its timers and requests stop
}

class AllocationConsoleElement extends HTMLElement {
  connectedCallback() {
    mount(this);
  }
  disconnectedCallback() {
    unmount(this);
  }
}
if (!customElements.get("allocation-console")) {
  customElements.define("allocation-console", AllocationConsoleElement);
}

// Marked elements: mounted when they appear, unmounted when they leave.
function scan() {
  for (const element of document.querySelectorAll("[data-allocation-console]")) {
    if (!(element instanceof AllocationConsoleElement)) mount(element);
  }
  for (const element of mounted.keys()) {
    if (!element.isConnected && !(element instanceof AllocationConsoleElement)) unmount(element);
  }
}
new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
scan();
