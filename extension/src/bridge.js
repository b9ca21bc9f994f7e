// Page bridge: the only script loaded into every console page (built
// minified into extension/bridge.js). It knows nothing about AWS: it applies
// the core's detection spec, puts a Diagnose button beside each error banner
// and, on a click, loads the panel (src/panel.js) and hands it a snapshot.
(() => {
  'use strict';
  if (globalThis.__consoledxBridge) return;
  globalThis.__consoledxBridge = true;

  const api = globalThis.browser ?? globalThis.chrome;
  const TAG = 'consoledx-diagnose';
  /** Banner element → its panel; exactly one per banner, dropped when the banner goes. */
  const panels = new Map();
  let spec = null;
  let scanQueued = false;

  const send = (message) => api.runtime.sendMessage(message);

  const text = (root, selector) => (selector && root.querySelector(selector)?.textContent?.trim()) || '';

  function cookie(name) {
    for (const part of document.cookie.split(';')) {
      const [key, ...rest] = part.trim().split('=');
      if (key === name) return rest.join('=');
    }
    return null;
  }

  // Frames the console writes itself (about:blank, srcdoc) stand for the page that made them.
  const pageUrl = () => (location.protocol === 'about:' ? document.baseURI : location.href);

  // The navigation bar lives in the top document, which same-origin frames may read.
  function topDocument() {
    try {
      return window.top.document;
    } catch {
      return document;
    }
  }

  const squeeze = (value, max) => (value ?? '').replace(/\s+/g, ' ').trim().slice(0, max);
  const isVisible = (el) => (el.checkVisibility ? el.checkVisibility() : el.getClientRects().length > 0);

  function nearbyFields(banner) {
    const f = spec.fields;
    const scope = banner.closest(f.scope) ?? banner.ownerDocument.body;
    const fields = [];
    for (const field of scope.querySelectorAll(f.field)) {
      if (fields.length >= f.maxFields) break;
      const control = field.querySelector(f.value);
      if (!control || control.type === 'password' || !isVisible(field)) continue;
      const value = control.matches('input, textarea') ? control.value : control.textContent;
      fields.push({ label: squeeze(text(field, f.label), f.maxChars), value: squeeze(value, f.maxChars) });
    }
    return fields;
  }

  const bannerContent = (banner, rule) => text(banner, rule.content) || banner.textContent.trim();
  const signature = (banner, rule) => `${text(banner, rule.header)}\n${bannerContent(banner, rule)}`;

  function snapshot(panel) {
    const { banner, rule } = panel;
    const id = spec.identity;
    const top = topDocument();
    return {
      url: panel.url,
      header: text(banner, rule.header),
      content: bannerContent(banner, rule),
      bannerKind: rule.kind,
      navUserLabel: top.querySelector(id.userButton)?.getAttribute('aria-label') ?? null,
      navUserTitle: top.querySelector(id.userTitle)?.getAttribute('title') ?? null,
      metaRegion: top.querySelector(id.metaRegion)?.getAttribute('content') ?? null,
      userInfoCookie: cookie(id.userInfoCookie),
      fields: nearbyFields(banner),
    };
  }

  // Enough style for the button; the panel brings its own.
  const STYLE = `:host{all:initial;display:block;margin-top:8px;font:14px/20px "Open Sans","Helvetica Neue",Roboto,Arial,sans-serif;color:#0f141a}
button{font:inherit;font-weight:700;border-radius:20px;border:2px solid #006ce0;background:#fff;color:#006ce0;padding:2px 14px;cursor:pointer}
button:hover{background:#f0fbff;color:#002b66;border-color:#002b66}button:focus-visible{outline:2px solid #006ce0;outline-offset:2px}
:host([data-mode=dark]){color:#dedee3}:host([data-mode=dark]) button{background:#161d26;color:#42b4ff;border-color:#42b4ff}`;

  function consoleIsDark(node) {
    return Boolean(node.closest?.('.awsui-dark-mode, .awsui-polaris-dark-mode'));
  }

  function attach(banner, rule) {
    const host = document.createElement(TAG);
    const root = host.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = STYLE;
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Diagnose';
    // `url` and `signature` are taken when the error appears: the console may
    // navigate (hash routes) while the banner stays.
    const panel = {
      host, root, button, banner, rule, send, state: 'idle', mounted: false,
      url: pageUrl(), signature: signature(banner, rule), snapshot: () => snapshot(panel),
    };
    button.addEventListener('click', () => open(panel));
    root.append(style, button);
    panels.set(banner, panel);
    place(panel);
  }

  // The panel's code comes on the first click: most console pages never need it.
  let panelCode = null;
  async function open(panel, focus = true) {
    try {
      panelCode ??= import(api.runtime.getURL('panel.js'));
      const code = await panelCode;
      if (!panel.mounted) {
        code.mount(panel);
        panel.mounted = true;
      }
      code.diagnose(panel, focus);
    } catch (error) {
      panelCode = null;
      panel.button.textContent = 'Diagnose (consoledx failed to load; click to retry)';
      console.warn('consoledx: the panel did not load', error);
    }
  }

  function place(panel) {
    const content = panel.banner.querySelector(panel.rule.content);
    (content?.parentElement ?? panel.banner).append(panel.host);
    followMode(panel);
  }

  function followMode(panel) {
    if (consoleIsDark(panel.banner)) panel.host.dataset.mode = 'dark';
    else delete panel.host.dataset.mode;
  }

  function scan() {
    scanQueued = false;
    for (const [banner, panel] of panels) {
      if (!banner.isConnected) {
        panels.delete(banner);
        continue;
      }
      // The console re-rendered the banner's insides and dropped the button.
      if (!panel.host.isConnected) place(panel);
      const now = signature(banner, panel.rule);
      if (now !== panel.signature) {
        panel.signature = now;
        panel.url = pageUrl();
        if (panel.state !== 'idle') open(panel, false);
      }
    }
    for (const rule of spec.banners) {
      for (const banner of document.querySelectorAll(rule.selector)) {
        if (!panels.has(banner)) attach(banner, rule);
      }
    }
  }

  function queueScan() {
    if (scanQueued) return;
    scanQueued = true;
    queueMicrotask(scan);
  }

  send({ type: 'GetSpec' }).then((reply) => {
    if (reply?.type !== 'Spec') return;
    spec = reply.spec;
    scan();
    // Mutations only, never a timer: no work while the page does not change.
    new MutationObserver(queueScan).observe(document.documentElement, { childList: true, subtree: true, characterData: true });
    // The console switches light/dark by a class on <html> or <body>.
    const modeObserver = new MutationObserver(() => panels.forEach(followMode));
    for (const node of [document.documentElement, document.body]) {
      if (node) modeObserver.observe(node, { attributes: true, attributeFilter: ['class'] });
    }
  }, () => { /* extension reloaded or disabled: nothing to attach to */ });
})();
