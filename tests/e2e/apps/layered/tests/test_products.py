def test_create_and_read_product(client, make_product):
    product = make_product(name="Espresso machine", price_cents=24900, stock=2)
    response = client.get(f"/products/{product['id']}")
    assert response.status_code == 200
    assert response.json() == product


def test_create_product_requires_user(client, unique):
    payload = {"sku": unique("sku"), "name": "Anonymous", "price_cents": 100}
    assert client.post("/products/", json=payload, headers={"X-User": "nobody@example.com"}).status_code == 401


def test_duplicate_sku(client, make_product, user_headers):
    product = make_product()
    payload = {"sku": product["sku"], "name": "Copy", "price_cents": 100}
    response = client.post("/products/", json=payload, headers=user_headers)
    assert response.status_code == 409


def test_search_products_with_total(client, make_product, unique):
    tag = unique("tea")
    for flavour in ("mint", "earl grey", "chai"):
        make_product(name=f"{tag} {flavour}")

    response = client.get("/products/", params={"q": tag, "limit": 2})
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 3
    assert [p["name"] for p in page["items"]] == [f"{tag} chai", f"{tag} earl grey"]

    page = client.get("/products/", params={"q": tag, "skip": 2}).json()
    assert [p["name"] for p in page["items"]] == [f"{tag} mint"]


def test_delete_product(client, make_product, user_headers):
    product = make_product()
    response = client.delete(f"/products/{product['id']}", headers=user_headers)
    assert response.status_code == 204
    assert client.get(f"/products/{product['id']}").status_code == 404
    assert client.delete(f"/products/{product['id']}", headers=user_headers).status_code == 404
