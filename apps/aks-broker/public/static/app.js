/* global location, history, TextDecoderStream, URLSearchParams, Blob */
// AKS broker page: who am I, namespace picker, pods (listed, then kept current with a watch), the
// user's permissions, and the "Use kubectl" panel (short-lived credentials and their kubeconfig).
// Plain DOM, no build step; every call goes through the broker as the user.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { namespace: '', watch: undefined, pods: new Map(), kubeconfigUrl: undefined, createdId: '' };
/** Unsafe methods carry this header: the broker's CSRF guard asks for it. */
const CSRF = { 'x-aks-broker': '1' };

function setStatus(text, isError) {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', Boolean(isError));
}

function text(tag, value, className) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (className) el.className = className;
  return el;
}

async function getJson(url, options) {
  const res = await fetch(url, {
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
    ...options,
  });
  let body;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  return { status: res.status, body, headers: res.headers };
}

function loginHref() {
  return '/login?returnTo=' + encodeURIComponent(location.pathname + location.search);
}

function showSignedOut(message) {
  stopWatch();
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
  $('sign-out').hidden = true;
  const signIn = $('sign-in');
  signIn.href = loginHref();
  signIn.hidden = false;
  $('whoami-short').textContent = '';
  setStatus(message || 'Not signed in.');
}

function describeError(res) {
  if (res.status === 429)
    return 'Too many requests; retry in ' + (res.headers.get('retry-after') || 'a few') + ' s.';
  const msg = res.body && (res.body.message || (res.body.error && res.body.error.message));
  return msg ? msg + ' (' + res.status + ')' : 'Request failed (' + res.status + ')';
}

function age(timestamp) {
  if (!timestamp) return '';
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(timestamp)) / 1000));
  if (s < 120) return s + 's';
  if (s < 7200) return Math.floor(s / 60) + 'm';
  if (s < 172800) return Math.floor(s / 3600) + 'h';
  return Math.floor(s / 86400) + 'd';
}

function podRow(pod) {
  const statuses = (pod.status && pod.status.containerStatuses) || [];
  const containers = (pod.spec && pod.spec.containers) || [];
  const ready = statuses.filter((c) => c.ready).length;
  const restarts = statuses.reduce((n, c) => n + (c.restartCount || 0), 0);
  const phase = pod.metadata.deletionTimestamp
    ? 'Terminating'
    : (pod.status && pod.status.phase) || 'Unknown';
  const tr = document.createElement('tr');
  tr.dataset.pod = pod.metadata.name;
  const name = document.createElement('th');
  name.scope = 'row';
  name.textContent = pod.metadata.name;
  tr.append(
    name,
    text('td', phase, 'phase phase-' + phase),
    text('td', ready + '/' + (containers.length || statuses.length)),
    text('td', String(restarts)),
    text('td', age(pod.metadata.creationTimestamp)),
  );
  return tr;
}

function renderPods() {
  const tbody = $('pods').querySelector('tbody');
  const names = [...state.pods.keys()].sort();
  tbody.replaceChildren(...names.map((n) => podRow(state.pods.get(n))));
  $('pods').hidden = names.length === 0;
  $('pods-message').textContent =
    names.length === 0
      ? 'No pods in ' + state.namespace + '.'
      : names.length + ' pod' + (names.length === 1 ? '' : 's') + '.';
}

function stopWatch() {
  if (state.watch) state.watch.abort();
  state.watch = undefined;
}

async function watchPods(namespace, resourceVersion) {
  stopWatch();
  const controller = new AbortController();
  state.watch = controller;
  const url =
    '/k8s/api/v1/namespaces/' +
    encodeURIComponent(namespace) +
    '/pods?watch=1&allowWatchBookmarks=true&resourceVersion=' +
    encodeURIComponent(resourceVersion);
  try {
    const res = await fetch(url, { credentials: 'same-origin', signal: controller.signal });
    if (!res.ok || !res.body) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const event = JSON.parse(line);
        if (event.type === 'ADDED' || event.type === 'MODIFIED')
          state.pods.set(event.object.metadata.name, event.object);
        else if (event.type === 'DELETED') state.pods.delete(event.object.metadata.name);
        else continue;
        if (state.namespace === namespace) renderPods();
      }
    }
  } catch {
    /* aborted (namespace changed, page left) or the stream broke: the list stays as last seen */
  }
}

async function loadPods(namespace) {
  state.pods = new Map();
  $('pods').hidden = true;
  $('pods-message').textContent = 'Loading pods…';
  const res = await getJson('/k8s/api/v1/namespaces/' + encodeURIComponent(namespace) + '/pods');
  if (res.status === 401) return showSignedOut('Your sign-in has ended. Sign in again.');
  if (res.status !== 200) {
    $('pods-message').textContent =
      res.status === 403 ? 'You may not list pods in ' + namespace + '.' : describeError(res);
    return;
  }
  for (const pod of res.body.items || []) state.pods.set(pod.metadata.name, pod);
  renderPods();
  void watchPods(namespace, res.body.metadata.resourceVersion);
}

function renderPermissions(permissions) {
  const rules = permissions.resourceRules || [];
  const tbody = $('permissions').querySelector('tbody');
  tbody.replaceChildren(
    ...rules.map((r) => {
      const tr = document.createElement('tr');
      tr.append(
        text('td', (r.verbs || []).join(', ')),
        text('td', (r.apiGroups || []).map((g) => g || 'core').join(', ')),
        text('td', (r.resources || []).join(', ')),
        text('td', (r.resourceNames || []).join(', ') || 'any'),
      );
      return tr;
    }),
  );
  $('permissions').hidden = rules.length === 0;
  $('perm-message').textContent = permissions.evaluationError
    ? permissions.evaluationError
    : permissions.incomplete
      ? 'The cluster says this list may be incomplete.'
      : '';
}

async function show(namespace) {
  setStatus('Loading…');
  const query = namespace ? '?namespace=' + encodeURIComponent(namespace) : '';
  const res = await getJson('/api/me' + query);
  if (res.status === 401) return showSignedOut();
  if (res.status !== 200) return setStatus(describeError(res), true);
  const me = res.body;
  state.namespace = me.namespace;
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('sign-in').hidden = true;
  $('sign-out').hidden = false;
  $('whoami-short').textContent = me.user.username;
  $('me-name').textContent = me.user.name;
  $('me-username').textContent = me.user.username;
  $('me-oid').textContent = me.user.oid;
  $('me-tenant').textContent = me.user.tenantId;
  $('me-expires').textContent = new Date(me.session.expiresAt).toLocaleString();
  for (const el of document.querySelectorAll('.ns-name')) el.textContent = me.namespace;
  $('ns').value = me.namespace;
  $('ns-list').replaceChildren(
    ...me.namespaces.map((n) => Object.assign(document.createElement('option'), { value: n })),
  );
  renderPermissions(me.permissions);
  setStatus('Signed in as ' + me.user.username + '.');
  await Promise.all([loadPods(me.namespace), loadCredentials()]);
}

function duration(seconds) {
  if (seconds % 3600 === 0) return seconds / 3600 + (seconds === 3600 ? ' hour' : ' hours');
  return Math.round(seconds / 60) + ' minutes';
}

function fillTtlChoices(maxTtlSeconds) {
  const select = $('cred-ttl');
  if (select.options.length > 0) return;
  const choices = [900, 3600, 4 * 3600, 8 * 3600].filter((s) => s < maxTtlSeconds);
  choices.push(maxTtlSeconds);
  select.replaceChildren(
    ...choices.map((s) =>
      Object.assign(document.createElement('option'), { value: String(s), textContent: duration(s) }),
    ),
  );
  select.value = String(Math.min(3600, maxTtlSeconds));
}

function credentialRow(credential) {
  const tr = document.createElement('tr');
  tr.dataset.credential = credential.id;
  const name = document.createElement('th');
  name.scope = 'row';
  name.textContent = credential.name;
  const revoke = text('button', 'Revoke', 'danger');
  revoke.type = 'button';
  revoke.setAttribute('aria-label', 'Revoke ' + credential.name);
  revoke.addEventListener('click', () => void revokeCredential(credential));
  const actions = document.createElement('td');
  actions.append(revoke);
  tr.append(
    name,
    text('td', new Date(credential.createdAt).toLocaleString()),
    text('td', new Date(credential.expiresAt).toLocaleString()),
    actions,
  );
  return tr;
}

/** Fills the credentials table; false when it could not (the reason is on the page already). */
async function loadCredentials() {
  const res = await getJson('/api/credentials');
  if (res.status === 401) {
    showSignedOut('Your sign-in has ended. Sign in again.');
    return false;
  }
  if (res.status !== 200) {
    $('cred-message').textContent = describeError(res);
    return false;
  }
  fillTtlChoices(res.body.maxTtlSeconds);
  const list = res.body.credentials;
  $('creds')
    .querySelector('tbody')
    .replaceChildren(...list.map(credentialRow));
  $('creds').hidden = list.length === 0;
  if (!list.some((c) => c.id === state.createdId)) hideCreated();
  return true;
}

function hideCreated() {
  $('cred-created').hidden = true;
  if (state.kubeconfigUrl) URL.revokeObjectURL(state.kubeconfigUrl);
  state.kubeconfigUrl = undefined;
  state.createdId = '';
}

async function createCredential() {
  $('cred-message').textContent = 'Creating…';
  const res = await getJson('/api/credentials', {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', ...CSRF },
    body: JSON.stringify({
      name: $('cred-name').value.trim(),
      ttlSeconds: Number($('cred-ttl').value),
      namespace: state.namespace || undefined,
    }),
  });
  if (res.status === 401) return showSignedOut('Your sign-in has ended. Sign in again.');
  if (res.status !== 201) return void ($('cred-message').textContent = describeError(res));
  hideCreated();
  const created = res.body;
  // The secret exists only in this answer: it goes into a local file download, nowhere else.
  state.kubeconfigUrl = URL.createObjectURL(new Blob([created.kubeconfig], { type: 'application/yaml' }));
  state.createdId = created.credential.id;
  $('cred-download').href = state.kubeconfigUrl;
  $('cred-created-name').textContent = created.credential.name;
  $('cred-usage').textContent =
    'export KUBECONFIG=~/Downloads/kubeconfig-aks-broker\n' +
    'kubectl get pods' +
    (state.namespace ? ' -n ' + state.namespace : '') +
    '\n# valid until ' +
    new Date(created.credential.expiresAt).toLocaleString();
  $('cred-created').hidden = false;
  // The list first, then the message: the message says the page shows the new state.
  if (await loadCredentials())
    $('cred-message').textContent = 'Credential ' + created.credential.name + ' created.';
}

async function revokeCredential(credential) {
  const res = await fetch('/api/credentials/' + encodeURIComponent(credential.id), {
    method: 'DELETE',
    credentials: 'same-origin',
    headers: CSRF,
  });
  if (res.status === 401) return showSignedOut('Your sign-in has ended. Sign in again.');
  if (!(await loadCredentials())) return;
  $('cred-message').textContent =
    res.status === 204 || res.status === 404
      ? 'Credential ' + credential.name + ' revoked.'
      : 'Could not revoke ' + credential.name + ' (' + res.status + ').';
}

document.addEventListener('DOMContentLoaded', () => {
  $('cred-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void createCredential();
  });
  $('ns-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const namespace = $('ns').value.trim();
    const url = new URL(location.href);
    url.searchParams.set('ns', namespace);
    history.replaceState(null, '', url);
    void show(namespace);
  });
  void show(new URLSearchParams(location.search).get('ns') || '');
});
