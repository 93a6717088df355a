"""The Domain controller: a public Route53 hosted zone, an ACM certificate for the name and `*.name`,
and the DNS validation records of that certificate in the zone.

Each sub-resource is found by our ownership tags before anything is created (moto, unlike AWS, makes a
second zone for a repeated CallerReference and ignores ACM's IdempotencyToken). A hosted zone cannot be
tagged in the call that creates it, so a crash between `create_hosted_zone` and `change_tags_for_resource`
would leave an untagged zone: the CallerReference carries the installation id, is saved in the record's
progress before the call (`ctx.checkpoint()`: "create pending", as Crossplane does), and an untagged zone
with our CallerReference is adopted and tagged instead of creating another. Likewise the ACM
IdempotencyToken is saved before `request_certificate`, so a retry after a crash asks for the same
certificate (AWS's listing may not show it yet) rather than a second one. Validation records are
written with UPSERT only (a CREATE of an existing record duplicates it in moto).

The domain is usable by environments once its phase is `ready`: `reconcile` returns `Done` only when the
certificate is ISSUED, and `Wait`s (condition `CertificateIssued` false) until then.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from cloudfauj.aws import MANAGED_BY, AwsError, as_ec2, from_aws, is_owned
from cloudfauj.errors import PermanentError, TemporaryError
from controllers.base import Change, Context, Done, Result, Wait
from controllers.idempotency import client_token

__all__ = ["DomainController"]

VALIDATION_TTL = 60
ZONE_PENDING = "hosted_zone_create_pending"  # progress: the CallerReference of a create in flight
CERT_PENDING = "certificate_request_pending"  # progress: {"token", "at"} of a request in flight
CERT_ARN = "certificate_arn"  # progress: the certificate this record requested or adopted
TOKEN_WINDOW = 3600  # ACM honours an IdempotencyToken for one hour


def _fqdn(name: str) -> str:
    return name.lower().rstrip(".") + "."


def _zone_id(zone_id: str) -> str:
    return zone_id.rsplit("/", 1)[-1]


def _tags(ctx: Context) -> dict[str, str]:
    return ctx.aws.tags("Domain", domain=ctx.obj.name)


def _comment(name: str) -> str:
    return f"Public hosted zone for {name} managed by Cloudfauj"


def _caller_prefix(ctx: Context) -> str:
    return f"cloudfauj-{ctx.installation_id}-{ctx.obj.name}-"


class HostedZone:
    name = "hosted-zone"

    def observe(self, ctx: Context, state: dict[str, Any], *, strict: bool = True) -> dict[str, Any] | None:
        """Our zone for the name, or None. With `strict`, a zone of that name that is not ours is an error."""
        name = ctx.obj.name
        listed = ctx.aws.call("route53", "list_hosted_zones_by_name", DNSName=name)["HostedZones"]
        same = sorted(
            (
                z
                for z in listed
                if z["Name"].lower() == _fqdn(name) and not z.get("Config", {}).get("PrivateZone", False)
            ),
            key=lambda z: z["Id"],
        )
        pending = ctx.progress.get(ZONE_PENDING)
        owned: list[tuple[dict[str, Any], dict[str, str]]] = []
        orphans: list[tuple[dict[str, Any], dict[str, str]]] = []
        foreign: list[str] = []
        for zone in same:
            zone_id = _zone_id(zone["Id"])
            tag_set = ctx.aws.call(
                "route53", "list_tags_for_resource", ResourceType="hostedzone", ResourceId=zone_id
            )["ResourceTagSet"]
            tags = from_aws(tag_set.get("Tags"))
            reference = zone.get("CallerReference", "")
            if is_owned(tags, ctx.installation_id, domain=name):
                owned.append((zone, tags))
            elif MANAGED_BY not in tags and (
                reference == pending or reference.startswith(_caller_prefix(ctx))
            ):
                orphans.append((zone, tags))  # created by us, crashed before it was tagged
            else:
                foreign.append(zone_id)
        found = owned or orphans
        if not found:
            if foreign and strict:
                raise PermanentError(
                    f"A hosted zone for {name} exists ({', '.join(foreign)}) and is not managed by this "
                    "Cloudfauj installation; delete it or tag it "
                    f"{MANAGED_BY}={ctx.installation_id}, cloudfauj:kind=Domain, cloudfauj:domain={name} "
                    "to let Cloudfauj adopt it, then apply the domain again."
                )
            return None
        zone, tags = found[0]
        zone_id = _zone_id(zone["Id"])
        if owned:  # a create that was pending has been adopted (or a crash came after the tagging)
            ctx.progress.pop(ZONE_PENDING, None)
        detail = ctx.aws.call("route53", "get_hosted_zone", Id=zone_id)
        servers = list(detail.get("DelegationSet", {}).get("NameServers", []))
        state["zone_id"], state["name_servers"] = zone_id, servers
        return {
            "id": zone_id,
            "owned": bool(owned),
            "tags": tags,
            "comment": detail["HostedZone"].get("Config", {}).get("Comment"),
            "name_servers": servers,
        }

    def diff(self, ctx: Context, observed: dict[str, Any] | None) -> list[Change]:
        if observed is None:
            return [Change(self.name, "create")]
        fields: dict[str, tuple[Any, Any]] = {}
        if not observed["owned"]:
            fields["tags"] = (observed["tags"], _tags(ctx))
        if observed["comment"] != _comment(ctx.obj.name):
            fields["comment"] = (observed["comment"], _comment(ctx.obj.name))
        return [Change(f"hosted-zone {observed['id']}", "update", fields)] if fields else []

    def apply(self, ctx: Context, state: dict[str, Any], observed: dict[str, Any] | None) -> None:
        name = ctx.obj.name
        if observed is None:
            reference = ctx.progress.get(ZONE_PENDING) or f"{_caller_prefix(ctx)}{client_token(ctx, 'zone')}"
            ctx.progress[ZONE_PENDING] = reference
            ctx.checkpoint()  # before the call: a crash during it must not lose the reference
            created = ctx.mutate(
                "route53",
                "create_hosted_zone",
                resource=f"hosted-zone {name}",
                Name=name,
                CallerReference=reference,
                HostedZoneConfig={"Comment": _comment(name), "PrivateZone": False},
            )
            zone_id = _zone_id(created["HostedZone"]["Id"])
            servers = list(created.get("DelegationSet", {}).get("NameServers", []))
            observed = {"id": zone_id, "owned": False, "comment": _comment(name), "name_servers": servers}
            state["zone_id"], state["name_servers"] = zone_id, servers
        zone_id = observed["id"]
        if not observed["owned"]:
            ctx.mutate(
                "route53",
                "change_tags_for_resource",
                resource=f"hosted-zone {zone_id}",
                ResourceType="hostedzone",
                ResourceId=zone_id,
                AddTags=as_ec2(_tags(ctx)),
            )
        ctx.progress.pop(ZONE_PENDING, None)
        if observed["comment"] != _comment(name):
            ctx.mutate(
                "route53",
                "update_hosted_zone_comment",
                resource=f"hosted-zone {zone_id}",
                Id=zone_id,
                Comment=_comment(name),
            )

    def delete(self, ctx: Context, observed: dict[str, Any]) -> None:
        zone_id, apex = observed["id"], _fqdn(ctx.obj.name)
        records = ctx.aws.paginate(
            "route53", "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone_id
        )
        left = [r for r in records if not (r["Name"].lower() == apex and r["Type"] in ("NS", "SOA"))]
        ours = _our_load_balancers(ctx) if any("AliasTarget" in r for r in left) else set()
        foreign = [f"{r['Name']} {r['Type']}" for r in left if _alias_host(r) not in ours]
        if foreign:
            raise PermanentError(
                f"Hosted zone {zone_id} for {ctx.obj.name} still holds records Cloudfauj did not create: "
                f"{', '.join(foreign)}; delete them, then delete the domain again."
            )
        if left:  # aliases of our applications: their deletion removes them
            raise TemporaryError(
                f"Hosted zone {zone_id} for {ctx.obj.name} still holds the records of applications being "
                f"deleted ({', '.join(r['Name'] for r in left)}); waiting for them.",
                delay=5,
            )
        try:
            ctx.mutate("route53", "delete_hosted_zone", resource=f"hosted-zone {zone_id}", Id=zone_id)
        except AwsError as e:
            if e.code == "NoSuchHostedZone":
                return
            if e.code == "HostedZoneNotEmpty":
                raise PermanentError(
                    f"Hosted zone {zone_id} for {ctx.obj.name} still holds records Cloudfauj did not "
                    "create; delete them, then delete the domain again."
                ) from e
            raise


def _alias_host(record: dict[str, Any]) -> str | None:
    target = record.get("AliasTarget", {}).get("DNSName")
    return _host(target) if target else None


def _host(dns_name: str) -> str:
    host = dns_name.lower().rstrip(".")
    return host.removeprefix("dualstack.")


def _our_load_balancers(ctx: Context) -> set[str]:
    """The DNS names of this installation's load balancers (application aliases in the zone point there)."""
    balancers = ctx.aws.paginate("elbv2", "describe_load_balancers", "LoadBalancers")
    arns = [b["LoadBalancerArn"] for b in balancers]
    owned: set[str] = set()
    for i in range(0, len(arns), 20):  # describe_tags takes at most 20 ARNs
        for d in ctx.aws.call("elbv2", "describe_tags", ResourceArns=arns[i : i + 20])["TagDescriptions"]:
            if is_owned(from_aws(d.get("Tags")), ctx.installation_id):
                owned.add(d["ResourceArn"])
    return {_host(b["DNSName"]) for b in balancers if b["LoadBalancerArn"] in owned}


def _created(cert: dict[str, Any]) -> float:
    at = cert.get("CreatedAt")
    return at.timestamp() if isinstance(at, datetime) else 0.0


class Certificate:
    name = "certificate"

    def owned(self, ctx: Context) -> list[dict[str, Any]]:
        """Every certificate of ours for the name, described (the tracked one even if not listed yet)."""
        name = ctx.obj.name
        arns = [
            s["CertificateArn"]
            for s in ctx.aws.paginate("acm", "list_certificates", "CertificateSummaryList")
            if s.get("DomainName") == name
        ]
        tracked = ctx.progress.get(CERT_ARN)
        if tracked and tracked not in arns:
            arns.append(tracked)  # listing may lag behind request_certificate
        certs = []
        for arn in arns:
            try:
                tags = from_aws(
                    ctx.aws.call("acm", "list_tags_for_certificate", CertificateArn=arn).get("Tags")
                )
                if not is_owned(tags, ctx.installation_id, domain=name):
                    continue
                certs.append(ctx.aws.call("acm", "describe_certificate", CertificateArn=arn)["Certificate"])
            except AwsError as e:
                if e.code != "ResourceNotFoundException":
                    raise
                if arn == tracked:
                    ctx.progress.pop(CERT_ARN, None)
        return certs

    def observe(self, ctx: Context, state: dict[str, Any]) -> dict[str, Any] | None:
        certs = self.owned(ctx)
        issued = [c for c in certs if c["Status"] == "ISSUED"]
        pending = [c for c in certs if c["Status"] == "PENDING_VALIDATION"]
        chosen = max(issued or pending, key=_created, default=None)
        if chosen is None:
            tracked = next((c for c in certs if c["CertificateArn"] == ctx.progress.get(CERT_ARN)), None)
            if tracked is not None:
                reason = tracked.get("FailureReason") or "no reason given"
                raise PermanentError(
                    f"ACM could not issue certificate {tracked['CertificateArn']} for {ctx.obj.name} "
                    f"(status {tracked['Status']}): {reason}. Fix the cause (e.g. CAA records or the "
                    "delegation of the zone at the registrar), then apply the domain again."
                )
            return None
        state["certificate_arn"], state["certificate_status"] = chosen["CertificateArn"], chosen["Status"]
        ctx.progress.pop(CERT_PENDING, None)  # found: no request is pending any more
        state["certificate"] = chosen
        return {"arn": chosen["CertificateArn"], "status": chosen["Status"]}

    def diff(self, observed: dict[str, Any] | None) -> list[Change]:
        return [Change(self.name, "create")] if observed is None else []

    def apply(self, ctx: Context, state: dict[str, Any], observed: dict[str, Any] | None) -> None:
        if observed is not None:
            return
        name = ctx.obj.name
        pending = ctx.progress.get(CERT_PENDING)
        if not pending or time.time() - float(pending.get("at", 0)) > TOKEN_WINDOW:
            pending = {"token": client_token(ctx, "certificate"), "at": time.time()}
            ctx.progress[CERT_PENDING] = pending
            ctx.checkpoint()  # before the call: a retry after a crash reuses the token
        arn = ctx.mutate(
            "acm",
            "request_certificate",
            resource=f"certificate {name}",
            DomainName=name,
            SubjectAlternativeNames=[f"*.{name}"],
            ValidationMethod="DNS",
            IdempotencyToken=pending["token"],
            Tags=as_ec2(_tags(ctx)),
        )["CertificateArn"]
        ctx.progress[CERT_ARN] = arn
        ctx.progress.pop(CERT_PENDING, None)
        cert = ctx.aws.call("acm", "describe_certificate", CertificateArn=arn)["Certificate"]
        state["certificate_arn"], state["certificate_status"] = arn, cert["Status"]
        state["certificate"] = cert

    def delete(self, ctx: Context, cert: dict[str, Any]) -> None:
        arn = cert["CertificateArn"]
        try:
            ctx.mutate("acm", "delete_certificate", resource=f"certificate {arn}", CertificateArn=arn)
        except AwsError as e:
            if e.code == "ResourceNotFoundException":
                return
            if e.code == "ResourceInUseException":
                raise TemporaryError(
                    f"Certificate {arn} for {ctx.obj.name} is still used by a load balancer; waiting.",
                    delay=10,
                ) from e
            raise


def validation_records(cert: dict[str, Any]) -> tuple[dict[str, tuple[str, str]], bool]:
    """The certificate's validation records (name -> (type, value), deduplicated) and whether ACM has
    published all of them yet (name and *.name share one record)."""
    records: dict[str, tuple[str, str]] = {}
    complete = True
    for option in cert.get("DomainValidationOptions", []):
        rr = option.get("ResourceRecord")
        if not rr:
            complete = False
            continue
        records[_fqdn(rr["Name"])] = (rr["Type"], rr["Value"])
    return records, complete


class ValidationRecords:
    name = "validation-records"

    def _current(self, ctx: Context, zone_id: str, name: str, type_: str) -> dict[str, Any] | None:
        found = ctx.aws.call(
            "route53",
            "list_resource_record_sets",
            HostedZoneId=zone_id,
            StartRecordName=name,
            StartRecordType=type_,
            MaxItems="1",
        )["ResourceRecordSets"]
        if found and found[0]["Name"].lower() == name and found[0]["Type"] == type_:
            record: dict[str, Any] = found[0]
            return record
        return None

    def observe(self, ctx: Context, state: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
        desired, complete = validation_records(state.get("certificate", {}))
        state["validation_records"], state["validation_published"] = desired, complete
        observed: dict[str, dict[str, Any] | None] = {}
        for name, (type_, _) in sorted(desired.items()):
            current = self._current(ctx, state["zone_id"], name, type_)
            observed[name] = (
                None
                if current is None
                else {
                    "values": [r["Value"] for r in current.get("ResourceRecords", [])],
                    "ttl": current.get("TTL"),
                }
            )
        return observed

    def diff(
        self, desired: dict[str, tuple[str, str]], observed: dict[str, dict[str, Any] | None]
    ) -> list[Change]:
        changes = []
        for name, (type_, value) in sorted(desired.items()):
            current = observed.get(name)
            if current is None:
                fields = {"type": (None, type_), "value": (None, value), "ttl": (None, VALIDATION_TTL)}
                changes.append(Change(f"validation-record {name}", "create", fields))
                continue
            fields = {}
            if current["values"] != [value]:
                fields["value"] = (current["values"], value)
            if current["ttl"] != VALIDATION_TTL:
                fields["ttl"] = (current["ttl"], VALIDATION_TTL)
            if fields:
                changes.append(Change(f"validation-record {name}", "update", fields))
        return changes

    def apply(self, ctx: Context, state: dict[str, Any], changes: list[Change]) -> None:
        desired: dict[str, tuple[str, str]] = state["validation_records"]
        names = [c.resource.split(" ", 1)[1] for c in changes]
        batch = [
            {
                "Action": "UPSERT",  # never CREATE: moto duplicates an existing record
                "ResourceRecordSet": {
                    "Name": name,
                    "Type": desired[name][0],
                    "TTL": VALIDATION_TTL,
                    "ResourceRecords": [{"Value": desired[name][1]}],
                },
            }
            for name in names
        ]
        ctx.mutate(
            "route53",
            "change_resource_record_sets",
            resource=f"validation-records {', '.join(names)}",
            HostedZoneId=state["zone_id"],
            ChangeBatch={"Comment": f"ACM validation of {ctx.obj.name} by Cloudfauj", "Changes": batch},
        )

    def delete(self, ctx: Context, zone_id: str, desired: dict[str, tuple[str, str]]) -> None:
        for name, (type_, _) in sorted(desired.items()):
            current = self._current(ctx, zone_id, name, type_)
            if current is None:
                continue  # already gone
            try:
                ctx.mutate(
                    "route53",
                    "change_resource_record_sets",
                    resource=f"validation-record {name}",
                    HostedZoneId=zone_id,
                    ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": current}]},
                )
            except AwsError as e:
                if e.code not in ("InvalidChangeBatch", "InvalidInput"):
                    raise
                if self._current(ctx, zone_id, name, type_) is not None:
                    raise  # it is still there: the failure was not "already deleted"


class DomainController:
    kind = "Domain"

    def __init__(self) -> None:
        self.zone, self.cert, self.records = HostedZone(), Certificate(), ValidationRecords()

    def _walk(self, ctx: Context, act: bool) -> tuple[list[Change], dict[str, Any]]:
        """Observe and diff every sub-resource in order; with `act`, fix each before moving on."""
        state: dict[str, Any] = {}
        changes: list[Change] = []

        zone = self.zone.observe(ctx, state)
        found = self.zone.diff(ctx, zone)
        changes.extend(found)
        if act and found:
            self.zone.apply(ctx, state, zone)
        if "zone_id" not in state:  # plan only: nothing below can exist without the zone
            return changes + [Change(self.cert.name, "create"), Change(self.records.name, "create")], state

        cert = self.cert.observe(ctx, state)
        found = self.cert.diff(cert)
        changes.extend(found)
        if act and found:
            self.cert.apply(ctx, state, cert)
        if "certificate" not in state:  # plan only
            return changes + [Change(self.records.name, "create")], state

        records = self.records.observe(ctx, state)
        found = self.records.diff(state["validation_records"], records)
        changes.extend(found)
        if act and found:
            self.records.apply(ctx, state, found)
        return changes, state

    def _outputs(self, state: dict[str, Any]) -> dict[str, Any]:
        return {
            "zone_id": state.get("zone_id"),
            "name_servers": state.get("name_servers", []),
            "certificate_arn": state.get("certificate_arn"),
            "certificate_status": state.get("certificate_status"),
        }

    def plan(self, ctx: Context) -> list[Change]:
        return self._walk(ctx, act=False)[0]

    def reconcile(self, ctx: Context) -> Result:
        name = ctx.obj.name
        changes, state = self._walk(ctx, act=True)
        if not changes:
            ctx.emit("info", "Every resource of the domain matches its spec.")
        arn, status = state.get("certificate_arn"), state.get("certificate_status")
        outputs = self._outputs(state)
        servers = ", ".join(outputs["name_servers"]) or "(none reported)"
        if status == "ISSUED":
            message = f"Domain {name} is ready: zone {outputs['zone_id']}, certificate {arn} is issued."
            return Done(
                outputs=outputs,
                message=message,
                conditions={"CertificateIssued": (True, "Issued", f"Certificate {arn} is issued.")},
            )
        if not state.get("validation_published", True):
            reason = f"Waiting for ACM to publish the DNS validation records of the certificate for {name}."
        else:
            reason = (
                f"Waiting for ACM to issue the certificate for {name} (status {status}); the zone's name "
                f"servers must be set at the registrar: {servers}."
            )
        return Wait(
            reason,
            delay=5,
            outputs=outputs,
            conditions={"CertificateIssued": (False, "PendingValidation", reason)},
        )

    def finalize(self, ctx: Context) -> Result:
        users = ctx.dependents()
        if users:
            names = ", ".join(sorted(e.name for e in users))
            return Wait(f"Waiting for the environments using the domain to be deleted: {names}", delay=2)
        state: dict[str, Any] = {}
        certs = self.cert.owned(ctx)
        for cert in certs:
            if cert.get("InUseBy"):
                raise TemporaryError(
                    f"Certificate {cert['CertificateArn']} for {ctx.obj.name} is still used by "
                    f"{', '.join(cert['InUseBy'])}; waiting.",
                    delay=10,
                )
        zone = self.zone.observe(ctx, state, strict=False)
        if zone is not None:
            desired: dict[str, tuple[str, str]] = {}
            for cert in certs:
                desired.update(validation_records(cert)[0])
            self.records.delete(ctx, zone["id"], desired)
        for cert in certs:
            self.cert.delete(ctx, cert)
        ctx.progress.pop(CERT_ARN, None)
        if zone is not None:
            self.zone.delete(ctx, zone)
        return Done(message=f"Every resource of domain {ctx.obj.name} is deleted.")
