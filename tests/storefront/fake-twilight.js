/* A fake of Salla's Twilight storefront runtime, enough for the snippet: `salla.config.get`,
 * `isGuest`, `onReady` (callback and promise), the analytics tracker registry (names unique,
 * both functions required, earlier events replayed to a late tracker), the event bus
 * (`salla.event.on`, EventEmitter-like: no replay), and a cart. Analytics events also go out
 * on the bus, "Product Added" as an array of lines (as Twilight's Raed theme reads it), and an
 * add emits `cart::item.added` with the cart answer and the product id. The page's events are
 * emitted during init (DOMContentLoaded, before onReady), when Twilight emits its own.
 * Query parameters pick the scenario: user=1 signs a shopper in, key/tracking/forms/bis set
 * the app's public settings, lang=en switches the page language, tracker=0 is a Twilight
 * without `registerTracker`, envelope=1 one whose bus wraps analytics payloads in a shape the
 * snippet does not know, lag=1 one whose "Signed In" precedes its config, names=0 one whose bus carries only the `::` events, rocket=1 runs the deferred snippet late (a Rocket Loader's
 * rewrite, done by the test server). It also times every call into the snippet (onReady
 * callbacks, tracker and bus calls), records long tasks and CSP violations. */
(function (w, d) {
  var q = new URLSearchParams(w.location.search);
  var page = w.__page || {};
  var conf = {
    "store.id": "1803665367",
    "app.klaviyo_public_key": q.has("key") ? q.get("key") : "AbC123",
    "app.onsite_tracking": q.has("tracking") ? q.get("tracking") : true,
    "app.signup_forms": q.has("forms") ? q.get("forms") : true,
    "app.back_in_stock": q.has("bis") ? q.get("bis") : "salla"
  };
  // Twilight gives a guest a `user.id` too; only isGuest() tells them apart.
  var guest = true;
  conf["user.id"] = 98765;
  function signIn() {
    guest = false;
    conf["user.id"] = q.get("uid") || 42;
    conf["user.email"] = q.has("email") ? q.get("email") : "shopper@example.com";
    conf["user.mobile_code"] = q.has("code") ? q.get("code") : "+966";
    conf["user.mobile"] = q.has("mobile") ? q.get("mobile") : 501806978;
  }
  if (q.get("user") === "1") signIn();
  d.documentElement.lang = q.get("lang") || "ar";
  d.documentElement.dir = d.documentElement.lang === "ar" ? "rtl" : "ltr";

  // Anything thrown into the page (or a promise left rejected) counts here; it must stay 0.
  w.__uncaught = 0;
  w.addEventListener("error", function () { w.__uncaught++; });
  w.addEventListener("unhandledrejection", function () { w.__uncaught++; });
  w.__csp = [];
  d.addEventListener("securitypolicyviolation", function (e) {
    w.__csp.push(e.effectiveDirective + " " + e.blockedURI);
  });
  var timing = (w.__timing = { calls: [], longtasks: [] });
  try {
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(function (e) { timing.longtasks.push(e.duration); });
    }).observe({ type: "longtask", buffered: true });
  } catch (e) {}
  function timed(what, fn, args) {
    var t = performance.now();
    try { return fn.apply(null, args || []); } finally { timing.calls.push([what, performance.now() - t]); }
  }

  var trackers = [], history = [], readyCbs = [], isReady = false, listeners = {};
  var cartLines = [];
  function emit(name, props) {
    history.push([name, props]);
    trackers.forEach(function (t) { timed("track " + name, t.track, [name, props]); });
    var bus = name === "Product Added" ? [props] : props;
    if (q.get("names") !== "0") fire(name, q.get("envelope") === "1" ? { data: bus } : bus);
  }
  var analytics = q.get("tracker") === "0" ? { track: emit } : {
    registerTracker: function (t) {
      if (!t || typeof t.track !== "function" || typeof t.page !== "function") throw new Error("tracker needs track and page");
      if (trackers.some(function (o) { return o.name === t.name; })) throw new Error("duplicate tracker " + t.name);
      trackers.push(t);
      history.forEach(function (e) { timed("replay " + e[0], t.track, e); });
    },
    track: emit
  };
  function on(name) { return function (cb) { (listeners[name] = listeners[name] || []).push(cb); }; }
  function fire(name, a, b) {
    (listeners[name] || []).forEach(function (cb) { timed("bus " + name, cb, [a, b]); });
  }
  var readyPromise = new Promise(function (resolve) {
    w.addEventListener("DOMContentLoaded", function () {
      (page.events || []).forEach(function (e) {
        if (e[0] === "Cart Viewed") {
          cartLines = e[1].products.map(function (p) {
            return { id: p.cart_item_id, product_id: p.product_id, product_name: p.name, price: p.price,
              quantity: p.quantity, sku: p.sku, url: p.url, product_image: p.image_url };
          });
        }
        emit(e[0], e[1]);
      });
      setTimeout(function () {
        isReady = true;
        readyCbs.forEach(function (cb) { timed("onReady", cb); });
        resolve();
      }, 30);
    });
  });
  w.salla = w.Salla = {
    config: {
      get: function (k) { return conf[k]; },
      isGuest: function () { return guest; }
    },
    onReady: function (cb) {
      if (typeof cb === "function") { if (isReady) timed("onReady", cb); else readyCbs.push(cb); }
      return readyPromise;
    },
    analytics: analytics,
    event: {
      on: function (name, cb) { on(name)(cb); },
      cart: { onItemAdded: on("cart::item.added") },
      auth: { onLoggedIn: on("auth.in") },
      product: { onAvailabilitySubscribed: on("product.notify") }
    },
    cart: {
      addItem: function (p) {
        var props = Object.assign({ cart_id: 7001, cart_item_id: 9001, quantity: 1 }, p);
        var line = cartLines.filter(function (l) { return l.product_id === p.product_id; })[0];
        if (line) line.quantity += props.quantity;
        else cartLines.push({ id: props.cart_item_id, product_id: p.product_id, product_name: p.name,
          price: parseFloat(p.price), quantity: props.quantity, sku: p.sku, url: p.url, product_image: p.image_url });
        fire("cart::item.added", {
          status: 200, success: true, data: { product_id: p.product_id, cart: { id: props.cart_id, items: cartLines } }
        }, p.product_id);
        emit("Product Added", props);
      }
    },
    auth: {
      // lag=1: "Signed In" goes out while config still describes the guest.
      login: function () {
        var ev = { type: "user", email: q.has("email") ? q.get("email") : "shopper@example.com", mobile: "+966501806978" };
        if (q.get("lag") === "1") emit("Signed In", ev);
        signIn();
        fire("auth.in");
        if (q.get("lag") !== "1") emit("Signed In", ev);
      }
    }
  };
  // Rocket Loader: the test server turned the snippet's tag into an inert one; run it once the
  // page has loaded and Twilight is ready, as Rocket Loader's deferred execution does.
  w.addEventListener("load", function () {
    setTimeout(function () {
      var s = d.querySelector("script[data-rocketsrc]");
      if (!s) return;
      w.__rocketAfterReady = isReady;
      var run = d.createElement("script");
      run.src = s.getAttribute("data-rocketsrc");
      d.body.appendChild(run);
    }, 100);
  });
})(window, document);
