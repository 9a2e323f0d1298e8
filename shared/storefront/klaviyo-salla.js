/* Klaviyo for Salla: the App Snippet on every storefront page (shared/storefront/README.md).
 * Every entry point runs in guard(): errors are counted, never thrown into the page. */
(function (w, d) {
  "use strict";
  // The test harness rewrites these two origins to a local fake; nothing else differs.
  var ONSITE = "https://static.klaviyo.com";
  var API = "https://a.klaviyo.com";
  var REVISION = "2026-07-15";
  var stats = (w.__klaviyoSallaErrors = w.__klaviyoSallaErrors || { count: 0, last: "" });
  var started = false, named;
  var store, key, person, direct, tracker, ready, cart = [], early = [], seen = {};

  function guard(fn) {
    return function () {
      try {
        return fn.apply(this, arguments);
      } catch (e) {
        // The name only: a message could carry page data.
        fail((e && e.name) || "Error");
      }
    };
  }

  function fail(name) {
    stats.count++;
    stats.last = name;
  }

  function cfg(path) {
    return w.salla.config.get(path);
  }

  // Settings arrive as booleans, "1"/"0", "true"/"false" or a select's value.
  function on(v, dflt) {
    if (v === undefined || v === null || v === "") return dflt;
    return !(v === false || v === 0 || /^(0|false|off|no|salla)$/i.test(String(v)));
  }

  // The only place product ids are built: the catalog's external_id is the events' ProductID.
  function productId(storeId, sallaProductId) {
    return "salla:" + storeId + ":product:" + sallaProductId;
  }

  function variantId(storeId, sallaProductId, sallaVariantId) {
    var id = productId(storeId, sallaProductId);
    return "$custom:::$default:::" + (sallaVariantId ? id + ":variant:" + sallaVariantId : id);
  }

  // Same rule as the server (shared/mapping/src/salla/profile.rs email()).
  function email(v) {
    if (typeof v !== "string") return;
    v = v.trim();
    var at = v.indexOf("@"), dom = v.slice(at + 1);
    if (at > 0 && dom.indexOf("@") < 0 && /^[^.].*[^.]$/.test(dom) && dom.indexOf(".") > 0 && v.length < 255 &&
      !/[\s\u0000-\u001f\u007f]/.test(v)) return v;
  }

  // Mobiles of the server's phone table; anything else is dropped (a wrong number is worse).
  var MOBILE = {
    966: /^5\d{8}$/, 971: /^5\d{8}$/, 965: /^[4569]\d{7}$/, 974: /^[3567]\d{7}$/,
    973: /^[36]\d{7}$/, 968: /^[79]\d{7}$/, 20: /^1[0125]\d{8}$/, 962: /^7[789]\d{7}$/
  };

  function digits(v) {
    if (typeof v === "number") v = String(v);
    if (typeof v !== "string") return;
    v = v.replace(/[\u0660-\u0669\u06f0-\u06f9]/g, function (c) {
      var n = c.charCodeAt(0);
      return String(n - (n >= 0x6f0 ? 0x6f0 : 0x660));
    }).trim();
    var intl = /^(\+|00)/.test(v);
    v = v.replace(/^(\+|00)/, "").replace(/[\s\-().\u00a0]/g, "");
    if (!/^\d{1,17}$/.test(v)) return;
    return { d: v, intl: intl };
  }

  function e164(code, mobile) {
    var m = digits(mobile), c = digits(code), n, cc;
    if (!m || m.d.length < 4) return;
    if (!m.intl && c && c.d.length <= 4 && (n = check(c.d, m.d.replace(/^0+/, "")))) return n;
    for (cc in MOBILE) {
      if (m.d.indexOf(cc) === 0 && (n = check(cc, m.d.slice(cc.length)))) return n;
    }
  }

  function check(cc, national) {
    return MOBILE[cc] && MOBILE[cc].test(national) ? "+" + cc + national : undefined;
  }

  // Identity as the server builds it; `ev`: a Signed In event, if config lags behind it.
  function shopper(ev) {
    ev = ev || {};
    // A guest has a `user.id` too (Twilight's own); it names no customer, so it is never sent.
    var guest = w.salla.config.isGuest && w.salla.config.isGuest(), id = guest ? null : cfg("user.id");
    if (!store || (guest && !ev.email && !ev.mobile)) return;
    // Absent fields stay undefined, which JSON leaves out.
    var p = {
      email: email(cfg("user.email") || ev.email),
      phone_number: e164(cfg("user.mobile_code") || ev.mobile_code, cfg("user.mobile") || ev.mobile),
      external_id: id || id === 0 ? "salla:" + store + ":customer:" + id : undefined
    };
    if (p.email || p.phone_number || p.external_id) return p;
  }

  function kl(args) {
    var k = w.klaviyo;
    if (direct) direct(args);
    else if (k && k.push) k.push(args);
    else (w._klOnsite = w._klOnsite || []).push(args);
  }

  function send(path, data) {
    return fetch(API + "/client/" + path + "?company_id=" + encodeURIComponent(key), {
      method: "POST",
      keepalive: true,
      headers: { "content-type": "application/vnd.api+json", revision: REVISION },
      body: JSON.stringify({ data: data })
    });
  }

  // Sign-up forms off: no onsite script (it would show them), so no cookie and no anonymous
  // visitors; a signed-in shopper's events go straight to Klaviyo's client API.
  function sendEvent(args) {
    if (args[0] !== "track" || !person) return;
    var x = {}, a = { properties: x, profile: { data: { type: "profile", attributes: person } } }, k;
    a.metric = { data: { type: "metric", attributes: { name: args[1] } } };
    for (k in args[2]) x[k] = args[2][k];
    a.unique_id = x.$event_id;
    a.value = x.$value;
    delete x.$event_id;
    delete x.$value;
    send("events", { type: "event", attributes: a }).then(function (r) {
      if (!r.ok) fail("HttpError");
    }, function () {
      fail("NetworkError");
    });
  }

  function num(v) {
    v = parseFloat(v);
    return isFinite(v) ? v : undefined;
  }

  function item(p) {
    return {
      ProductName: p.name || p.product_name,
      ProductID: productId(store, p.product_id),
      SKU: p.sku,
      Categories: p.category ? [].concat(p.category) : [],
      ImageURL: p.image_url || p.product_image,
      URL: p.url,
      Brand: p.brand,
      Price: num(p.price),
      CompareAtPrice: num(p.regular_price || p.original_price)
    };
  }

  function day() {
    return new Date().toISOString().slice(0, 10);
  }

  // Once per metric and id: Twilight's tracker and its event bus may both deliver an event.
  function track(name, props) {
    var k = name + props.$event_id;
    if (seen[k]) return;
    seen[k] = 1;
    kl(["track", name, props]);
    return 1;
  }

  // Tracker calls and bus events alike; before start() (Twilight emits product and cart
  // events during its init, before onReady) they wait. `ready`: 1 tracking on, 2 off.
  function deliver(name, p, pid) {
    if (!ready) early.push([name, p, pid]);
    // The bus's "Product Added" carries an array of lines; the tracker's one object.
    else if (ready < 2 && handlers[name]) handlers[name]([].concat(p || {})[0] || {}, pid);
  }

  var handlers = {
    // A payload without a product id is not one these handlers know: nothing is sent for it.
    "Product Viewed": function (p) {
      if (!p.product_id) return;
      var i = item(p);
      i.$value = i.Price;
      // One per shopper, product and day: replays and reloads do not repeat it.
      i.$event_id = i.ProductID + ":viewed:" + day();
      if (track("Viewed Product", i)) kl(["trackViewedItem", {
        Title: i.ProductName, ItemId: i.ProductID, Categories: i.Categories, ImageUrl: i.ImageURL, Url: i.URL
      }]);
    },
    "Cart Viewed": function (p) {
      cart = [];
      var list = p.products || [];
      for (var n = 0; n < list.length; n++) cart.push(line(list[n]));
    },
    "Product Added": function (p) {
      if (!p.product_id) return;
      named = 1;
      var added = line(p), names = [], total = 0, items = [added], n;
      for (n = 0; n < cart.length; n++) if (cart[n].ProductID !== added.ProductID) items.push(cart[n]);
      cart = items;
      for (n = 0; n < items.length; n++) {
        names.push(items[n].ProductName);
        total += (items[n].ItemPrice || 0) * (items[n].Quantity || 1);
      }
      var props = {
        $value: total,
        $event_id: "salla:" + store + ":cart:" + p.cart_id + ":item:" + (p.cart_item_id || p.product_id) + ":added:" + added.Quantity,
        AddedItemQuantity: added.Quantity,
        ItemNames: names,
        Items: items
      }, i = item(p);
      for (n in i) props["AddedItem" + n] = i[n];
      track("Added to Cart", props);
    },
    // Themes without the analytics tracker: the bus's cart answer (`CartResponse.update`) and
    // the added product's id. Its items are the whole cart, the added one among them. Unused
    // once "Product Added" arrives by name, which says the added quantity, not the line's.
    "cart::item.added": function (res, pid) {
      if (tracker || named) return;
      var c = (res.data || {}).cart || {}, list = c.items || [], add, x, n;
      pid = pid || res.data.product_id;
      cart = [];
      for (n = 0; n < list.length; n++) {
        // A view of Twilight's cart line with the ids "Product Added" carries; the line itself
        // stays untouched.
        x = Object.create(list[n]);
        x.cart_item_id = x.id;
        x.cart_id = c.id;
        if (x.product_id == pid) add = x;
        else cart.push(line(x));
      }
      if (add) handlers["Product Added"](add);
      // That call set `named`, which only a "Product Added" by name may.
      named = 0;
    },
    "Signed In": identify,
    "Signed Up": identify
  };

  function line(p) {
    var i = item(p);
    i.ItemPrice = i.Price;
    delete i.Price;
    i.Quantity = num(p.quantity) || 1;
    return i;
  }

  function identify(ev) {
    var p = shopper(ev);
    if (p && JSON.stringify(p) !== JSON.stringify(person)) kl(["identify", (person = p)]);
  }

  function load(src) {
    var s = d.createElement("script");
    s.async = true;
    s.src = src;
    s.onerror = function () {
      fail("LoadError");
    };
    (d.head || d.body).appendChild(s);
  }

  var start = guard(function () {
    if (started) return;
    started = true;
    ready = 2;
    key = cfg("app.klaviyo_public_key");
    store = cfg("store.id");
    if (!/^[A-Za-z0-9]{4,12}$/.test(key || "") || !store) return;
    var tracking = on(cfg("app.onsite_tracking"), true);
    var forms = on(cfg("app.signup_forms"), true);
    if (forms) load(ONSITE + "/onsite/js/" + key + "/klaviyo.js?company_id=" + key);
    else direct = sendEvent;
    if (tracking) {
      identify();
      // No query string or fragment: they can hold tokens (password reset, checkout links).
      track("Active on Site", {
        $event_id: "salla:" + store + ":active:" + day(),
        URL: w.location.origin + w.location.pathname
      });
      ready = 1;
      var a = (w.Salla && w.Salla.analytics) || w.salla.analytics;
      if (a && a.registerTracker) {
        a.registerTracker((tracker = {
          name: "klaviyo-for-salla",
          track: guard(deliver),
          page: function () {}
        }));
      }
      while (early.length) guard(deliver).apply(0, early.shift());
    }
    if (on(cfg("app.back_in_stock"), false)) backInStock();
  });

  // Back in stock, where the merchant chose Klaviyo's over Salla's own "notify me".
  var TEXT = {
    ar: ["أعلمني عند توفره", "بريدك الإلكتروني", "سنراسلك عند توفر المنتج", "تعذر التسجيل، حاول مجددًا"],
    en: ["Notify me when available", "Your email", "We will email you when it is back", "Could not sign you up, try again"]
  };

  function backInStock() {
    var btn = d.querySelector('salla-add-product-button[product-status^="out"],[data-klaviyo-bis]');
    var pid = btn && (btn.getAttribute("product-id") || btn.getAttribute("data-klaviyo-bis"));
    if (!pid) return;
    var t = TEXT[/^ar/i.test(d.documentElement.lang || "ar") ? "ar" : "en"];
    // Salla's own: the availability form, and the add button in its "notify me" state.
    var own = d.querySelectorAll('salla-product-availability,salla-add-product-button[product-status="out-and-notify"]');
    for (var n = 0; n < own.length; n++) own[n].style.display = "none";
    var box = d.createElement("form"), input = d.createElement("input"), go = d.createElement("button"),
      note = d.createElement("p");
    box.className = "klaviyo-bis";
    input.type = "email";
    input.required = true;
    input.placeholder = t[1];
    input.setAttribute("aria-label", t[1]);
    input.value = cfg("user.email") || "";
    go.type = "submit";
    go.textContent = t[0];
    note.setAttribute("role", "status");
    box.appendChild(input);
    box.appendChild(go);
    box.appendChild(note);
    box.onsubmit = guard(function (ev) {
      ev.preventDefault();
      var who = email(input.value);
      if (!who) return input.focus();
      var profile = shopper() || {};
      profile.email = who;
      go.disabled = true;
      send("back-in-stock-subscriptions", {
        type: "back-in-stock-subscription",
        attributes: { channels: ["EMAIL"], profile: { data: { type: "profile", attributes: profile } } },
        relationships: {
          variant: { data: { type: "catalog-variant", id: variantId(store, pid, btn.getAttribute("variant-id")) } }
        }
      }).then(function (r) {
        note.textContent = t[r.ok ? 2 : 3];
        go.disabled = r.ok;
        if (!r.ok) fail("HttpError");
      }, function () {
        note.textContent = t[3];
        go.disabled = false;
        fail("NetworkError");
      });
    });
    btn.parentNode.insertBefore(box, btn.nextSibling);
  }

  guard(function () {
    var s = w.salla, n;
    if (!s || !s.onReady) return;
    // Listening from the start: what Twilight emits during its init is heard, then waits.
    if (s.event && s.event.on) for (n in handlers) s.event.on(n, guard(deliver.bind(0, n)));
    var p = s.onReady(start);
    if (p && p.then) p.then(start);
  })();
})(window, document);
