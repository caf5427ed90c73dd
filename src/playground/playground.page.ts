/**
 * The GraphiQL page and its start-up script. Everything it loads comes from
 * this server (`/graphql/assets/*`), and its Content-Security-Policy forbids
 * any other origin, so the playground works offline and leaks nothing.
 */

export const ASSET_PREFIX = '/graphql/assets';

/** The example the playground opens with: the README's createOrder, runnable as is. */
export const EXAMPLE_QUERY = /* GraphQL */ `# order-gateway playground. Press the run button
# (or Ctrl-Enter) to create this example order.
# The API key goes in the Headers tab below.
# Keyboard: Escape, then Tab, leaves an editor.

mutation CreateOrder($input: CreateOrderInput!) {
  createOrder(input: $input) {
    order {
      id
      orderNumber
      status
      total
      currency
      items { productId name quantity price subtotal }
      createdAt
    }
    userErrors { field message code }
  }
}
`;

export const EXAMPLE_VARIABLES = {
  input: {
    customerId: 'contact_abc123',
    items: [
      { productId: 'prod_001', name: 'Premium Widget', quantity: 2, price: '99.00', sku: 'WGT-PRE' },
      { productId: 'prod_002', name: 'Widget Accessory', quantity: 1, price: '29.00', sku: 'WGT-ACC' },
    ],
    total: '227.00',
    currency: 'USD',
    shippingAddress: {
      name: 'John Doe',
      address: '123 Main St',
      city: 'Jakarta',
      postalCode: '12345',
      country: 'ID',
    },
    notes: 'Created from the playground',
  },
};

export const KEY_PLACEHOLDER = '<your API key>';

/**
 * Only this server: scripts from our own asset route, no inline script, and
 * requests to `/graphql` alone. GraphiQL sets inline styles, hence that one
 * allowance.
 */
export const PLAYGROUND_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** JSON inside a `<script>` element: `<` is escaped so no value can close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/**
 * `url` (a path of the gateway's) as the page served at `page` names it: relative to the page, so that
 * behind a proxy that serves the gateway under a path prefix (nginx's `location /orders/ { proxy_pass
 * http://gateway/; }`) the browser asks for it under the prefix too. The absolute `/graphql/assets/…`
 * and `/graphql` left the prefix out: the page loaded no script and showed nothing.
 */
export function relativeToPage(url: string, page: string): string {
  const directory = page.slice(0, page.lastIndexOf('/') + 1);
  if (`${url}/` === directory) return './'; // the page asked for as `/graphql/` (trailing slashes are ignored)
  return url.startsWith(directory) ? `./${url.slice(directory.length)}` : url;
}

export function playgroundHtml(options: {
  endpoint: string;
  /** The path the page was asked for (the endpoint, or it with a trailing slash); the endpoint by default. */
  pagePath?: string;
  apiKey: string | undefined;
  /** The URL of an asset under ASSET_PREFIX; the playground gives one that names the content's version. */
  assetUrl?: (file: string) => string;
}): string {
  const absolute = options.assetUrl ?? ((file: string) => `${ASSET_PREFIX}/${file}`);
  const page = options.pagePath ?? options.endpoint;
  const asset = (file: string) => relativeToPage(absolute(file), page);
  const config = {
    endpoint: relativeToPage(options.endpoint, page),
    query: EXAMPLE_QUERY,
    variables: JSON.stringify(EXAMPLE_VARIABLES, null, 2),
    headers: JSON.stringify({ Authorization: `Bearer ${options.apiKey ?? KEY_PLACEHOLDER}` }, null, 2),
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>order-gateway · GraphQL playground</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${asset('graphiql.min.css')}">
<link rel="stylesheet" href="${asset('playground.css')}">
</head>
<body>
<div id="graphiql">Loading the playground…</div>
<script type="application/json" id="playground-config">${scriptJson(config)}</script>
<script src="${asset('react.production.min.js')}"></script>
<script src="${asset('react-dom.production.min.js')}"></script>
<script src="${asset('graphiql.min.js')}"></script>
<script src="${asset('graphql-ws.min.js')}"></script>
<script src="${asset('playground.js')}"></script>
</body>
</html>
`;
}

export const PLAYGROUND_CSS = `html, body { margin: 0; height: 100%; }
#graphiql { height: 100vh; }
`;

/**
 * Runs in the browser after React, ReactDOM and GraphiQL's UMD builds. The
 * headers are not persisted: not in tabs (GraphiQL's default) and not in the
 * history (stripped by the storage below), so a key never lands in
 * localStorage.
 */
export const PLAYGROUND_SCRIPT = `'use strict';
(function () {
  var config = JSON.parse(document.getElementById('playground-config').textContent);
  var httpUrl = new URL(config.endpoint, window.location.href);
  var wsUrl = new URL(httpUrl.toString());
  wsUrl.protocol = httpUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  // Subscriptions go over graphql-ws on the same path, with the Headers tab as connection_init's
  // payload: one lazy client per operation (it connects only for a subscription), as GraphiQL's
  // own subscriptionUrl does, but one that does not retry a refused key. graphql-ws retries
  // 4403 Forbidden five times with back-off, which left the result pane empty for about 40 s.
  // Everything else is retried (five times, about 30 to 45 s in all), a socket that could not
  // connect too: graphql-ws gives up on that at once by default, so a subscription ended with
  // {"isTrusted": true} whenever a restarting server was not back by the first retry.
  var REFUSED_KEY = 4403;
  function wsClient(headers) {
    var client = graphqlWs.createClient({
      url: wsUrl.toString(),
      connectionParams: headers || {},
      lazy: true,
      shouldRetry: function (closed) {
        return !(typeof closed === 'object' && closed !== null && closed.code === REFUSED_KEY);
      },
    });
    // GraphiQL words a close event itself; a socket that never connected is a bare Event, shown as
    // {"isTrusted": true}. Say what it was instead.
    return {
      subscribe: function (payload, sink) {
        return client.subscribe(payload, Object.assign({}, sink, {
          error: function (error) {
            var unreachable = error instanceof Event && !(error instanceof CloseEvent);
            sink.error(unreachable ? new Error('Could not connect to ' + wsUrl + ' (is the server running?)') : error);
          },
        }));
      },
    };
  }
  var fetchGraphQL = function (params, options) {
    var headers = options && options.headers;
    return GraphiQL.createFetcher({ url: httpUrl.toString(), wsClient: wsClient(headers) })(params, options);
  };
  var initialHeaders = JSON.parse(config.headers);
  // GraphiQL fetches the schema before its headers editor exists, so that first
  // request goes without headers; give it the page's own.
  var fetcher = function (params, options) {
    if (params.operationName === 'IntrospectionQuery' && !(options && options.headers)) {
      options = Object.assign({}, options, { headers: initialHeaders });
    }
    return fetchGraphQL(params, options);
  };
  // GraphiQL's history (and favourites) saves each run's headers in localStorage whatever
  // shouldPersistHeaders says, so the API key would stay in the browser. They are dropped on the
  // way in; on the way out an entry gets this page's headers, so picking it still runs with a key.
  var HISTORY_KEY = /^graphiql:(queries|favorites)$/;
  function rewriteEntries(key, value, headers) {
    if (value === null || !HISTORY_KEY.test(key)) return value;
    try {
      var saved = JSON.parse(value);
      var list = saved && saved[key.slice('graphiql:'.length)];
      if (!Array.isArray(list)) return value;
      list.forEach(function (entry) {
        if (!entry || typeof entry !== 'object') return;
        if (headers === undefined) delete entry.headers;
        else entry.headers = headers;
      });
      return JSON.stringify(saved);
    } catch (error) {
      return value;
    }
  }
  var storage = {
    getItem: function (key) { return rewriteEntries(key, window.localStorage.getItem(key), config.headers); },
    setItem: function (key, value) { window.localStorage.setItem(key, rewriteEntries(key, value, undefined)); },
    removeItem: function (key) { window.localStorage.removeItem(key); },
    clear: function () {
      Object.keys(window.localStorage).forEach(function (key) {
        if (key.indexOf('graphiql:') === 0) window.localStorage.removeItem(key);
      });
    },
    get length() {
      return Object.keys(window.localStorage).filter(function (key) { return key.indexOf('graphiql:') === 0; }).length;
    },
  };
  // GraphiQL's editors are CodeMirror 5, whose hidden textarea takes the keys but has no name, so
  // a screen reader announced an unnamed "edit text" three times (axe-core: "label", critical).
  // Each gets the name of its editor as soon as GraphiQL puts it in the page.
  var EDITOR_NAMES = [
    ['.graphiql-query-editor textarea', 'Query editor'],
    ['.graphiql-editor-tool .graphiql-editor:nth-child(1) textarea', 'Variables editor'],
    ['.graphiql-editor-tool .graphiql-editor:nth-child(2) textarea', 'Headers editor'],
    ['.graphiql-response textarea', 'Result'],
  ];
  var mount = document.getElementById('graphiql');
  function nameEditors() {
    EDITOR_NAMES.forEach(function (entry) {
      mount.querySelectorAll(entry[0]).forEach(function (textarea) {
        if (!textarea.hasAttribute('aria-label')) textarea.setAttribute('aria-label', entry[1]);
      });
    });
  }
  new MutationObserver(nameEditors).observe(mount, { childList: true, subtree: true });
  // In a CodeMirror editor Tab and Shift+Tab indent, so keyboard focus that entered the query
  // editor could never leave it: the run button, variables, headers and result were out of reach
  // (WCAG 2.1.2, no keyboard trap). As in CodeMirror 6, Escape releases the next Tab: it then
  // moves focus as anywhere else in the page, before CodeMirror sees it.
  var released = false;
  window.addEventListener('keydown', function (event) {
    var inEditor = event.target instanceof HTMLTextAreaElement && event.target.closest('.CodeMirror') !== null;
    if (!inEditor) {
      released = false;
      return;
    }
    if (event.key === 'Shift') return; // Shift+Tab: Shift comes down first
    if (event.key === 'Tab' && released && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.stopPropagation();
      released = false;
      return;
    }
    released = event.key === 'Escape';
  }, true);
  var root = ReactDOM.createRoot(mount);
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      query: config.query,
      variables: config.variables,
      headers: config.headers,
      // The headers of a tab that has none: a new tab, and every tab GraphiQL restores after a
      // reload (it keeps tabs without their headers). Without it those tabs run without the key.
      defaultHeaders: config.headers,
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      storage: storage,
    }),
  );
})();
`;
