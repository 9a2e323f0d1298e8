/* A fake of Klaviyo's onsite script (klaviyo.js): drains the `_klOnsite` queue, takes
 * `klaviyo.push([...])`, `identify` and `track`, records each call in `window.__fakeKlaviyo`
 * and forwards it to the client-API stub as the real script does (identify → POST
 * /client/profiles, track → POST /client/events, `$event_id` → `unique_id`, `$value` → `value`),
 * with `company_id` taken from its own URL, cross-origin to the client API as the real one
 * posts. `trackViewedItem` only records (the real script keeps recently viewed items in the
 * browser). */
(function (w, d) {
  var src = (d.currentScript && d.currentScript.src) || "";
  var company = new URL(src, w.location.href).searchParams.get("company_id");
  // Where Klaviyo's script posts; the test server points it at its client-API origin.
  var API = "https://a.klaviyo.com";
  var rec = (w.__fakeKlaviyo = { calls: [], sent: 0 });
  var profile = null;
  function post(path, body) {
    rec.sent++;
    fetch(API + "/client/" + path + "?company_id=" + encodeURIComponent(company), {
      method: "POST",
      headers: { "content-type": "application/vnd.api+json", revision: "2026-07-15" },
      body: JSON.stringify(body)
    });
  }
  var api = {
    identify: function (p) {
      profile = Object.assign({}, profile || {}, p);
      post("profiles", { data: { type: "profile", attributes: p } });
    },
    track: function (name, props) {
      var p = Object.assign({}, props), attrs = {
        properties: p,
        metric: { data: { type: "metric", attributes: { name: name } } },
        profile: { data: { type: "profile", attributes: profile || { anonymous_id: "fake-anonymous-visitor" } } }
      };
      if (p.$event_id !== undefined) { attrs.unique_id = String(p.$event_id); delete p.$event_id; }
      if (p.$value !== undefined) { attrs.value = p.$value; delete p.$value; }
      post("events", { data: { type: "event", attributes: attrs } });
    },
    trackViewedItem: function () {}
  };
  function handle(args) {
    rec.calls.push(args[0]);
    if (!api[args[0]]) throw new Error("fake klaviyo.js: unknown call " + args[0]);
    api[args[0]].apply(null, args.slice(1));
  }
  var queued = w._klOnsite || [];
  w.klaviyo = { push: handle, identify: api.identify, track: api.track };
  w._klOnsite = { push: handle };
  queued.forEach(handle);
})(window, document);
