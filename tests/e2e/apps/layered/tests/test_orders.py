def test_place_order(client, make_product, user_headers):
    kettle = make_product(name="Kettle", price_cents=2500, stock=5)
    mug = make_product(name="Mug", price_cents=800, stock=10)

    response = client.post(
        "/orders/",
        json={"lines": [{"product_id": kettle["id"], "quantity": 1}, {"product_id": mug["id"], "quantity": 4}]},
        headers=user_headers,
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "placed"
    assert order["total_cents"] == 2500 + 4 * 800
    assert [(line["product"]["name"], line["quantity"]) for line in order["lines"]] == [("Kettle", 1), ("Mug", 4)]

    assert client.get(f"/products/{kettle['id']}").json()["stock"] == 4
    assert client.get(f"/products/{mug['id']}").json()["stock"] == 6


def test_out_of_stock_rolls_back(client, make_product, user_headers):
    plenty = make_product(stock=10)
    scarce = make_product(stock=1)
    response = client.post(
        "/orders/",
        json={"lines": [{"product_id": plenty["id"], "quantity": 3}, {"product_id": scarce["id"], "quantity": 2}]},
        headers=user_headers,
    )
    assert response.status_code == 409
    assert client.get(f"/products/{plenty['id']}").json()["stock"] == 10
    assert client.get(f"/products/{scarce['id']}").json()["stock"] == 1
    assert client.get("/orders/", headers=user_headers).json() == []


def test_unknown_product(client, user_headers):
    response = client.post("/orders/", json={"lines": [{"product_id": 987654321, "quantity": 1}]}, headers=user_headers)
    assert response.status_code == 404


def test_orders_are_private(client, make_product, user_headers, unique):
    product = make_product()
    order = client.post(
        "/orders/", json={"lines": [{"product_id": product["id"], "quantity": 1}]}, headers=user_headers
    ).json()
    assert [o["id"] for o in client.get("/orders/", headers=user_headers).json()] == [order["id"]]
    assert client.get(f"/orders/{order['id']}", headers=user_headers).json() == order

    other_email = f"{unique('other')}@example.com"
    client.post("/users/", json={"email": other_email})
    other = {"X-User": other_email}
    assert client.get(f"/orders/{order['id']}", headers=other).status_code == 404
    assert client.get("/orders/", headers=other).json() == []


def test_receipt(client, make_product, user_headers):
    product = make_product(name="Desk lamp", price_cents=3999, stock=3)
    order = client.post(
        "/orders/", json={"lines": [{"product_id": product["id"], "quantity": 2}]}, headers=user_headers
    ).json()

    response = client.get(f"/orders/{order['id']}/receipt", headers=user_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    receipt = response.text
    assert f"Receipt for order #{order['id']}" in receipt
    assert f"Customer: {user_headers['X-User']}" in receipt
    assert f"2 x Desk lamp ({product['sku']}) = 79.98" in receipt
    assert "Total: 79.98" in receipt
