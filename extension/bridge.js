// Page bridge: the only script in console pages. It knows nothing about AWS:
// it applies the core's detection spec, sends snapshots to the service worker
// and renders the view models it gets back, as text only.
(() => {
  'use strict';
  if (globalThis.__consoledxBridge) return;
  globalThis.__consoledxBridge = true;

  const api = globalThis.browser ?? globalThis.chrome;
  const TAG = 'consoledx-diagnose';
  const attached = new WeakSet();
  let spec = null;
  let scanQueued = false;

  const send = (message) => api.runtime.sendMessage(message);

  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props ?? {})) {
      if (value == null || value === false) continue;
      if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children.flat()) if (child) node.append(child);
    return node;
  }

  const text = (root, selector) => (selector && root.querySelector(selector)?.textContent?.trim()) || '';

  function cookie(name) {
    for (const part of document.cookie.split(';')) {
      const [key, ...rest] = part.trim().split('=');
      if (key === name) return rest.join('=');
    }
    return null;
  }

  function snapshot(banner, rule) {
    const id = spec.identity;
    return {
      url: location.href,
      header: text(banner, rule.header),
      content: text(banner, rule.content) || banner.textContent.trim(),
      bannerKind: rule.kind,
      navUserLabel: document.querySelector(id.userButton)?.getAttribute('aria-label') ?? null,
      navUserTitle: document.querySelector(id.userTitle)?.getAttribute('title') ?? null,
      metaRegion: document.querySelector(id.metaRegion)?.getAttribute('content') ?? null,
      userInfoCookie: cookie(id.userInfoCookie),
      fields: [],
    };
  }

  const STYLE = `
:host{all:initial;display:block;margin-top:8px;font:14px/20px "Open Sans","Helvetica Neue",Roboto,Arial,sans-serif;color:#0f141a}
button{font:inherit;font-weight:700;border-radius:20px;border:2px solid #006ce0;background:#fff;color:#006ce0;padding:2px 14px;cursor:pointer}
button:hover{background:#f0fbff}button:focus-visible{outline:2px solid #006ce0;outline-offset:2px}
button.primary{background:#ff9900;border-color:#ff9900;color:#0f141a}
section{margin-top:8px;padding:12px 16px;border:1px solid #c6c6cd;border-radius:12px;background:#fff;max-width:72ch}
h3{margin:0 0 4px;font-size:16px}p{margin:4px 0}.notice,.error{color:#db0000}.muted{color:#656871}
ol{padding-left:20px}li{margin:6px 0}pre{white-space:pre-wrap;word-break:break-all;background:#f3f3f7;padding:6px 8px;border-radius:8px;margin:4px 0}
.row{display:flex;gap:8px;flex-wrap:wrap;margin-top:8px}a{color:#006ce0}
@media (prefers-color-scheme:dark){:host{color:#dedee3}section{background:#161d26;border-color:#424650}button{background:#161d26}pre{background:#232b37}}
@media (prefers-reduced-motion:reduce){*{transition:none!important;animation:none!important}}`;

  function attach(banner, rule) {
    attached.add(banner);
    const content = banner.querySelector(rule.content);
    const anchor = content?.parentElement ?? banner;
    const host = h(TAG);
    const root = host.attachShadow({ mode: 'open' });
    const region = h('section', { role: 'region', 'aria-label': 'Diagnosis', hidden: true });
    const status = h('p', { role: 'status', class: 'muted' });
    const body = h('div');
    region.append(status, body);
    const panel = { root, region, status, body, banner, rule, view: null };
    root.append(h('style', { text: STYLE }), h('button', { type: 'button', onclick: () => diagnose(panel) }, 'Diagnose'), region);
    anchor.append(host);
  }

  function show(panel, state, statusText, ...children) {
    panel.region.hidden = false;
    panel.region.dataset.state = state;
    panel.status.textContent = statusText;
    panel.body.replaceChildren(...children.flat().filter(Boolean));
  }

  async function ask(panel, message, state, onReply) {
    try {
      const reply = await send(message);
      if (!reply || reply.type === 'Error') throw new Error(reply?.message ?? 'The consoledx service worker did not answer.');
      onReply(reply);
    } catch (error) {
      show(panel, 'error', '', h('p', { class: 'error', text: String(error.message ?? error) }),
        h('div', { class: 'row' }, h('button', { type: 'button', onclick: () => state() }, 'Retry')));
    }
  }

  function diagnose(panel) {
    show(panel, 'loading', 'Diagnosing…');
    ask(panel, { type: 'Diagnose', snapshot: snapshot(panel.banner, panel.rule) }, () => diagnose(panel), (reply) => {
      panel.view = reply.view;
      renderAnalysis(panel);
    });
  }

  function link(item) {
    return h('a', { href: item.url, target: '_blank', rel: 'noopener noreferrer', text: item.title || item.url });
  }

  function renderAnalysis(panel, extra = []) {
    const v = panel.view;
    if (v.diagnosisId) panel.region.dataset.diagnosisId = v.diagnosisId;
    const online = v.source === 'backend';
    show(panel, 'analysis', online ? '' : 'Local analysis',
      v.notice && h('p', { class: 'notice', text: v.notice }),
      v.title && h('h3', { text: v.title }),
      h('p', { text: v.analysis }),
      v.docs.length > 0 && h('p', {}, ...v.docs.map((d, i) => [i ? ' · ' : '', link(d)])),
      h('div', { class: 'row' },
        online && h('button', { type: 'button', class: 'primary', onclick: () => resolve(panel) }, 'Help me resolve'),
        online && feedbackButtons(panel),
        v.retryable && h('button', { type: 'button', onclick: () => diagnose(panel) }, 'Retry')),
      extra,
      details(v.sent));
  }

  function feedbackButtons(panel) {
    const vote = (verdict) => ask(panel, { type: 'Feedback', diagnosisId: panel.view.diagnosisId, verdict }, () => vote(verdict),
      () => { panel.status.textContent = 'Thanks — your feedback was recorded.'; });
    return [h('button', { type: 'button', onclick: () => vote('helpful') }, 'Helpful'),
      h('button', { type: 'button', onclick: () => vote('not_helpful') }, 'Not helpful')];
  }

  function details(sent) {
    return h('details', {}, h('summary', { text: 'Details sent' }),
      h('ul', {}, sent.items.map((item) => h('li', { text: `${item.label}: ${item.value}` }))),
      h('p', { class: 'muted', text: `${sent.redactions} value(s) redacted before sending.` }));
  }

  function resolve(panel) {
    show(panel, 'resolving', 'Reading your account…');
    const v = panel.view;
    ask(panel, { type: 'Resolve', diagnosisId: v.diagnosisId, context: v.context }, () => resolve(panel), (reply) => {
      const r = reply.view;
      renderAnalysis(panel, [
        h('h3', { text: 'How to resolve' }),
        h('p', { text: r.cause }),
        h('ol', {}, r.steps.map((step) => h('li', {},
          h('strong', { text: step.title }),
          step.detail && h('p', { text: step.detail }),
          step.cli && h('pre', { text: step.cli }),
          step.policy && h('pre', { text: step.policy }),
          step.link && h('p', {}, link({ url: step.link, title: 'Open in the console' }))))),
        r.notChecked.length > 0 && h('p', { class: 'muted', text: `Not checked: ${r.notChecked.join('; ')}` }),
      ]);
      panel.region.dataset.state = 'resolved';
    });
  }

  function scan() {
    scanQueued = false;
    for (const rule of spec.banners) {
      for (const banner of document.querySelectorAll(rule.selector)) {
        if (!attached.has(banner)) attach(banner, rule);
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
    new MutationObserver(queueScan).observe(document.documentElement, { childList: true, subtree: true });
  }, () => { /* extension reloaded or disabled: nothing to attach to */ });
})();
