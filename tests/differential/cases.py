"""Differential cases: (id, legacy expression, a fragment the fix must contain, sync setup, async setup).

The legacy expression is written against the session ``db``; the fixer (AFY204) rewrites it inside
``async def f(db: AsyncSession): return <legacy>``. The fragment pins the form the fixer chose, so
that every emitted form is exercised. Setup code binds module globals the expression uses.
"""

GET1 = ("u1 = db.get(User, 1)", "u1 = await db.get(User, 1)")
ALL_USERS = ("objs = db.query(User).order_by(User.id).all()",
             "objs = (await db.scalars(select(User).order_by(User.id))).all()")
RAW_UPDATE = "update users set name='X' where id=1"

CASES = [
    # single entity: .all()
    ("all", "db.query(User).order_by(User.id).all()", ".unique().all()"),
    ("all-filter", "db.query(User).filter(User.age > 26).order_by(User.id).all()", ".unique().all()"),
    ("filter_by", "db.query(User).filter_by(name='bob').order_by(User.id).all()", ".unique().all()"),
    ("filter_by-after-join", "db.query(User).join(User.addresses).filter_by(email='b@x').all()", ".unique().all()"),
    ("join-dup", "db.query(User).join(User.addresses).order_by(User.id).all()", ".unique().all()"),
    ("join-explicit", "db.query(User).join(Address, Address.user_id == User.id).filter(Address.email == 'b@x').all()",
     ".unique().all()"),
    ("outerjoin", "db.query(User).outerjoin(User.addresses).filter(Address.id == None).order_by(User.id).all()",
     ".unique().all()"),
    ("joinedload", "db.query(User).options(joinedload(User.addresses)).order_by(User.id).all()", ".unique().all()"),
    ("joinedload-m2o", "db.query(Address).options(joinedload(Address.user)).order_by(Address.id).all()",
     ".unique().all()"),
    ("selectinload", "db.query(User).options(selectinload(User.addresses)).order_by(User.id).all()", ".unique().all()"),
    ("order_by-desc-offset-limit", "db.query(User).order_by(User.age.desc()).offset(1).limit(2).all()",
     ".unique().all()"),
    ("or_-in_", "db.query(User).filter(or_(User.name.like('a%'), User.id.in_([3, 4]))).order_by(User.id).all()",
     ".unique().all()"),
    ("relationship-any", "db.query(User).filter(User.addresses.any(Address.email == 'b@x')).all()", ".unique().all()"),
    ("distinct-entity", "db.query(User).join(User.addresses).distinct().order_by(User.id).all()", ".unique().all()"),
    ("aliased-all", "db.query(aliased(User)).order_by(User.id).all()", ".unique().all()"),
    ("with_for_update-all", "db.query(User).filter(User.id == 1).with_for_update().all()", ".unique().all()"),
    # .first()
    ("first", "db.query(User).filter(User.id == 1).first()", ".limit(1))).unique().first()"),
    ("first-none", "db.query(User).filter(User.id == 99).first()", ".limit(1))).unique().first()"),
    ("first-limit-replaced", "db.query(User).order_by(User.id).limit(3).first()", ".limit(1))).unique().first()"),
    ("first-joinedload", "db.query(User).options(joinedload(User.addresses)).order_by(User.id).first()",
     ".limit(1))).unique().first()"),
    # .one() / .one_or_none() / .scalar() on an entity
    ("one", "db.query(User).filter(User.id == 2).one()", ".unique().one()"),
    ("one-noresult", "db.query(User).filter(User.id == 99).one()", ".unique().one()"),
    ("one-multiple", "db.query(User).filter(User.name == 'bob').one()", ".unique().one()"),
    ("one-join-dup", "db.query(User).join(User.addresses).filter(User.id == 1).one()", ".unique().one()"),
    ("one-for_update", "db.query(User).filter(User.id == 1).with_for_update().one()", ".unique().one()"),
    ("one_or_none-none", "db.query(User).filter(User.id == 99).one_or_none()", ".unique().one_or_none()"),
    ("one_or_none-multi", "db.query(User).filter(User.name == 'bob').one_or_none()", ".unique().one_or_none()"),
    ("scalar-entity", "db.query(User).filter(User.id == 1).scalar()", ".unique().one_or_none()"),
    ("scalar-entity-join-dup", "db.query(User).join(User.addresses).filter(User.id == 1).scalar()",
     ".unique().one_or_none()"),
    ("scalar-entity-multi", "db.query(User).filter(User.name == 'bob').scalar()", ".unique().one_or_none()"),
    # columns: rows, never scalars
    ("columns-all", "db.query(User.id, User.name).order_by(User.id).all()", "(await db.execute(select(User.id, User.name)"),
    ("single-col-all", "db.query(User.name).order_by(User.id).all()", ")).all()"),
    ("distinct-col", "db.query(User.name).distinct().order_by(User.name).all()", ")).all()"),
    ("group_by-having", "db.query(User.name, func.count(User.id)).group_by(User.name).having(func.count(User.id) > 0)"
     ".order_by(User.name).all()", ")).all()"),
    ("label", "db.query(User.name.label('n')).order_by(User.id).all()", ")).all()"),
    ("col-first", "db.query(User.name).filter(User.id == 1).first()", ".limit(1))).first()"),
    ("col-first-none", "db.query(User.name).filter(User.id == 99).first()", ".limit(1))).first()"),
    ("col-one", "db.query(User.id, User.name).filter(User.id == 1).one()", ")).one()"),
    ("col-one-noresult", "db.query(User.id).filter(User.id == 99).one()", ")).one()"),
    ("col-one_or_none-multi", "db.query(User.id).filter(User.name == 'bob').one_or_none()", ")).one_or_none()"),
    ("col-scalar", "db.query(User.name).filter(User.id == 1).scalar()", ".scalar_one_or_none()"),
    ("col-scalar-multirow-raises", "db.query(User.name).filter(User.name == 'bob').scalar()", ".scalar_one_or_none()"),
    ("col-scalar-norow", "db.query(User.name).filter(User.id == 99).scalar()", ".scalar_one_or_none()"),
    ("agg-count-scalar", "db.query(func.count(User.id)).scalar()", ".scalar_one_or_none()"),
    ("agg-max-scalar", "db.query(func.max(User.age)).filter(User.name == 'bob').scalar()", ".scalar_one_or_none()"),
    # entities and columns mixed: execute + unique
    ("mixed-entities", "db.query(User, Address).join(User.addresses).order_by(Address.id).all()", ")).unique().all()"),
    ("mixed-dedupe", "db.query(User, Address.user_id).join(User.addresses).order_by(User.id).all()",
     ")).unique().all()"),
    ("entity+col", "db.query(User, User.name).filter(User.name == 'bob').order_by(User.id).all()", ")).unique().all()"),
    ("mixed-first", "db.query(User, Address.email).join(User.addresses).order_by(Address.id).first()",
     ".limit(1))).unique().first()"),
    ("mixed-one-multiple", "db.query(User, Address.email).join(User.addresses).filter(User.id == 1).one()",
     ")).unique().one()"),
    # .count()
    ("count", "db.query(User).filter(User.age > 26).count()", "select(func.count()).select_from("),
    ("count-join", "db.query(User).join(User.addresses).count()", ".subquery()))"),
    ("count-vs-len-all", "(db.query(User).join(User.addresses).count(), len(db.query(User).join(User.addresses).all()))",
     ".subquery()))"),
    ("count-limit", "db.query(User).order_by(User.id).limit(2).count()", ".subquery()))"),
    ("count-group_by", "db.query(User.name).group_by(User.name).count()", ".subquery()))"),
    ("count-distinct-col", "db.query(User.name).distinct().count()", ".subquery()))"),
    ("count-aliased", "db.query(aliased(User)).count()", ".subquery()))"),
    ("count-joinedload", "db.query(User).options(joinedload(User.addresses)).count()", ".subquery()))"),
    ("count-arith", "db.query(User).count() + 1", ".subquery())) + 1"),
    ("paginate", "(db.query(User).filter(User.age > 20).count(), "
     "db.query(User).filter(User.age > 20).order_by(User.id).offset(2).limit(2).all())", ".subquery()))"),
    # .get()
    ("get", "db.query(User).get(2)", "await db.get(User, 2)"),
    ("get-missing", "db.query(User).get(99)", "await db.get(User, 99)"),
    ("get-options", "[a.id for a in db.query(User).options(selectinload(User.addresses)).get(1).addresses]",
     "options=[selectinload(User.addresses)]"),
    ("get-populate_existing", "(u1.name, db.query(User).populate_existing().get(1).name)",
     "(await db.get(User, 1, populate_existing=True)).name",
     "u1 = db.get(User, 1); db.execute(text(RAW))", "u1 = await db.get(User, 1); await db.execute(text(RAW))"),
    ("get-stale", "(u1.name, db.query(User).get(1).name)", "(await db.get(User, 1)).name",
     "u1 = db.get(User, 1); db.execute(text(RAW))", "u1 = await db.get(User, 1); await db.execute(text(RAW))"),
    ("populate_existing-one", "(u1.name, db.query(User).populate_existing().filter(User.id == 1).one().name)",
     "execution_options(populate_existing=True)",
     "u1 = db.get(User, 1); db.execute(text(RAW))", "u1 = await db.get(User, 1); await db.execute(text(RAW))"),
    ("no-populate_existing-stale", "(u1.name, db.query(User).filter(User.id == 1).one().name)", ".unique().one()",
     "u1 = db.get(User, 1); db.execute(text(RAW))", "u1 = await db.get(User, 1); await db.execute(text(RAW))"),
    # bulk update / delete
    ("update-dict", "(db.query(User).filter(User.id == 1).update({'name': 'zzz'}), u1.name)",
     "update(User).filter(User.id == 1).values({'name': 'zzz'}))).rowcount", *GET1),
    ("update-expr", "(db.query(User).filter(User.age > 30).update({User.age: User.age + 1}), "
     "sorted((u.id, u.age) for u in objs))", ".values({User.age: User.age + 1}))).rowcount", *ALL_USERS),
    ("update-sync-false", "(db.query(User).filter(User.id == 1).update({'name': 'zzz'}, synchronize_session=False), "
     "u1.name)", ".execution_options(synchronize_session=False)", *GET1),
    ("update-fetch", "(db.query(User).filter(User.name.like('b%')).update({'age': 1}, synchronize_session='fetch'), "
     "sorted((u.id, u.age) for u in objs))", "synchronize_session='fetch'", *ALL_USERS),
    ("update-filter_by", "(db.query(User).filter_by(name='bob').update({'age': 2}), sorted((u.id, u.age) for u in objs))",
     "update(User).filter_by(name='bob')", *ALL_USERS),
    ("delete", "(db.query(User).filter(User.id == 3).delete(), u3 in db)", "(await db.execute(delete(User)",
     "u3 = db.get(User, 3)", "u3 = await db.get(User, 3)"),
    ("delete-state", "(db.query(User).filter(User.age > 32).delete(), "
     "[inspect(o).deleted or inspect(o).detached or o in db for o in objs])", ")).rowcount", *ALL_USERS),
    ("delete-evaluate", "(db.query(User).filter(User.name == 'bob').delete(synchronize_session='evaluate'), "
     "[o in db for o in objs])", ".execution_options(synchronize_session='evaluate')", *ALL_USERS),
    ("delete-join-unsupported-raises", "db.query(User).filter(User.addresses.any()).delete(synchronize_session='evaluate')",
     ".execution_options(synchronize_session='evaluate')"),
    # iteration and slices
    ("iterate", "[u for u in db.query(User).order_by(User.id)]", "(await db.scalars(select(User).order_by(User.id))).unique()"),
    ("iterate-join-dup", "[u for u in db.query(User).join(User.addresses).order_by(User.id)]", ")).unique()]"),
    ("iterate-columns", "[r for r in db.query(User.id, User.name).order_by(User.id)]", "(await db.execute(select(User.id"),
    ("iterate-mixed", "[r for r in db.query(User, Address.id).join(User.addresses).order_by(Address.id)]",
     ")).unique()]"),
    ("slice", "db.query(User).order_by(User.id)[1:3]", ".slice(1, 3))).unique().all()"),
    ("slice-head", "db.query(User).order_by(User.id)[:2]", ".slice(0, 2))).unique().all()"),
    ("slice-columns", "db.query(User.name).order_by(User.id)[1:3]", ".slice(1, 3))).all()"),
    # the run_sync fallback (shape or method not translatable statically)
    ("fallback-variable-entity", "db.query(ent).join(User.addresses).order_by(User.id).all()", "run_sync(lambda s:",
     "ent = User", "ent = User"),
    ("fallback-subquery-session", "db.query(User).filter(User.id.in_(db.query(Address.user_id))).order_by(User.id).all()",
     "run_sync(lambda s: s.query(User).filter(User.id.in_(s.query(Address.user_id)))"),
    ("fallback-exists", "db.query(db.query(User).filter(User.name == 'bob').exists()).scalar()", "run_sync(lambda s:"),
    ("fallback-yield_per", "db.query(User).join(User.addresses).order_by(User.id).yield_per(1).all()", "run_sync(lambda s:"),
    ("fallback-with_entities-quirk", "db.query(User).with_entities(func.count()).scalar()", "run_sync(lambda s:"),
    ("fallback-value", "db.query(User).filter(User.id == 1).value(User.name)", "run_sync(lambda s:"),
    ("fallback-value-multirow", "db.query(User).filter(User.name == 'bob').value(User.name)", "run_sync(lambda s:"),
    ("fallback-from_statement", "db.query(User).from_statement(text('select * from users where id = 1')).all()",
     "run_sync(lambda s:"),
    ("fallback-scalar-mixed", "db.query(User, User.name).filter(User.id == 1).scalar()", "run_sync(lambda s:"),
    ("fallback-star-args", "db.query(*cols).order_by(User.id).all()", "run_sync(lambda s:",
     "cols = (User.id, User.name)", "cols = (User.id, User.name)"),
    ("fallback-s-taken", "db.query(User).filter(User.id == s).value(User.name)", "run_sync(lambda sync_session:",
     "s = 1", "s = 1"),
    ("fallback-slice-variable", "db.query(User).order_by(User.id)[lo:-1]", "run_sync(lambda s:", "lo = 1", "lo = 1"),
]
