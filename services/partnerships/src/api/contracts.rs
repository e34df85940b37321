//! `ContractService`: proposals, signatures and withdrawals (rules 2-4 and 6).

use edu_kit::error::{FieldProblems, reason as kit_reason};
use edu_kit::idempotency::{self, IdempotencyKey};
use edu_kit::paging::PageRequest;
use edu_kit::{ApiError, CallContext, resource};
use edu_proto::edu::partnerships::v1 as pb;
use edu_proto::edu::partnerships::v1::contract_service_server::ContractService;
use tonic::{Request, Response, Status};

use super::access::Viewer;
use super::applications::{optional_school, visibility};
use super::{convert, respond};
use crate::domain::PartnershipError;
use crate::store::Store;
use crate::store::contracts::{self, Contract, ContractFilter, NewContract};

/// The contract service.
#[derive(Debug, Clone)]
pub struct ContractsApi {
    store: Store,
}

impl ContractsApi {
    /// The service on `store`.
    pub fn new(store: Store) -> Self {
        ContractsApi { store }
    }

    /// A contract the caller may read: its schools, the office of either, the ministry.
    async fn readable(&self, viewer: &Viewer, name: &str) -> Result<Contract, ApiError> {
        let (year, id) = convert::year_child(name, "contracts", "name")?;
        self.store
            .contract(&year, &id)
            .await?
            .filter(|c| {
                viewer.oversees(&c.proposer_id, &c.proposer_region)
                    || viewer.oversees(&c.counterparty_id, &c.counterparty_region)
            })
            .ok_or_else(|| ApiError::not_found(name.to_string()))
    }

    async fn propose(
        &self,
        request: Request<pb::ProposeContractRequest>,
    ) -> Result<pb::Contract, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let year_id = convert::year_id(&body.parent, "parent")?;
        let draft = body.contract.clone().unwrap_or_default();
        let mut problems = FieldProblems::new();
        let proposer = problems.field(convert::school_id(&draft.proposer, "contract.proposer"));
        let counterparty = problems.field(convert::school_id(
            &draft.counterparty,
            "contract.counterparty",
        ));
        let innovation = if draft.innovation.is_empty() {
            None
        } else {
            problems.field(convert::innovation_id(
                &draft.innovation,
                "contract.innovation",
            ))
        };
        let note = problems.text("contract.note", &draft.note, 2000, false);
        problems.finish()?;
        let (Some(proposer), Some(counterparty)) = (proposer, counterparty) else {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "contract",
                "proposer and counterparty are required",
            ));
        };
        viewer.require_school(&proposer)?;
        let year = self.store.year(&year_id).await?;
        let new = NewContract {
            id: resource::new_id(),
            proposer_id: proposer,
            counterparty_id: counterparty,
            innovation,
            note,
        };
        let key = IdempotencyKey::for_request(context, "ProposeContract", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let created = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(convert::contract(
                &contracts::propose(conn, context, &year, &new).await?,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get(
        &self,
        request: Request<pb::GetContractRequest>,
    ) -> Result<pb::Contract, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        Ok(convert::contract(
            &self.readable(&viewer, &request.get_ref().name).await?,
        ))
    }

    async fn list(
        &self,
        request: Request<pb::ListContractsRequest>,
    ) -> Result<pb::ListContractsResponse, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let filter = ContractFilter {
            year: convert::year_filter(&body.parent, "parent")?,
            school: optional_school(&body.school, "school")?,
            region: convert::region_filter(&body.region_code, "region_code")?,
            kind: convert::enum_filter(body.kind, "kind", |raw| {
                convert::stored(&convert::CONTRACT_KINDS, raw).map(str::to_string)
            })?,
            state: convert::enum_filter(body.state, "state", |raw| {
                convert::stored(&convert::CONTRACT_STATES, raw).map(str::to_string)
            })?,
        };
        let paging = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &[
                "ListContracts",
                &body.parent,
                &body.school,
                &body.region_code,
                &body.kind.to_string(),
                &body.state.to_string(),
            ],
        )?;
        let page = self
            .store
            .list_contracts(
                &visibility(&viewer),
                &filter,
                paging.size,
                paging.after.clone(),
            )
            .await?;
        Ok(pb::ListContractsResponse {
            contracts: page.items.iter().map(convert::contract).collect(),
            next_page_token: paging.next_token(page.next.as_ref()),
        })
    }

    async fn sign(
        &self,
        request: Request<pb::SignContractRequest>,
    ) -> Result<pb::Contract, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        if body.request_id.is_empty() {
            return Err(ApiError::invalid_field(
                kit_reason::INVALID_FIELDS,
                "request_id",
                "required: a signature counts against the caps, so a retry must not sign twice",
            ));
        }
        let current = self.readable(&viewer, &body.name).await?;
        if !viewer.is_school(&current.counterparty_id) {
            return Err(if viewer.is_school(&current.proposer_id) {
                PartnershipError::NotTheCounterparty.into()
            } else {
                ApiError::permission_denied(
                    super::errors::reason::SCOPE_REQUIRED,
                    "only the school the contract was proposed to signs it",
                )
            });
        }
        let key = IdempotencyKey::for_request(context, "SignContract", &body.request_id, body)?;
        let mut tx = self.store.begin().await?;
        let signed = idempotency::once(&mut tx, key.as_ref(), context.now(), async |conn| {
            Ok(convert::contract(
                &contracts::sign(conn, context, &current.year_id, &current.id, &body.etag).await?,
            ))
        })
        .await?;
        tx.commit().await?;
        Ok(signed)
    }

    async fn withdraw(
        &self,
        request: Request<pb::WithdrawContractRequest>,
    ) -> Result<pb::Contract, ApiError> {
        let context = CallContext::of(&request)?;
        let viewer = Viewer::of(context.caller()?)?;
        let body = request.get_ref();
        let mut problems = FieldProblems::new();
        let reason = problems.text("reason", &body.reason, 2000, false);
        problems.finish()?;
        let current = self.readable(&viewer, &body.name).await?;
        let by = [&current.proposer_id, &current.counterparty_id]
            .into_iter()
            .find(|s| viewer.is_school(s))
            .cloned()
            .ok_or_else(|| {
                ApiError::permission_denied(
                    super::errors::reason::SCOPE_REQUIRED,
                    "only a school of the contract withdraws it",
                )
            })?;
        let mut tx = self.store.begin().await?;
        let withdrawn = contracts::withdraw(
            &mut tx,
            context,
            &current.year_id,
            &current.id,
            &body.etag,
            &by,
            &reason,
        )
        .await?;
        tx.commit().await?;
        Ok(convert::contract(&withdrawn))
    }
}

#[tonic::async_trait]
impl ContractService for ContractsApi {
    async fn propose_contract(
        &self,
        request: Request<pb::ProposeContractRequest>,
    ) -> Result<Response<pb::Contract>, Status> {
        respond(self.propose(request).await)
    }

    async fn get_contract(
        &self,
        request: Request<pb::GetContractRequest>,
    ) -> Result<Response<pb::Contract>, Status> {
        respond(self.get(request).await)
    }

    async fn list_contracts(
        &self,
        request: Request<pb::ListContractsRequest>,
    ) -> Result<Response<pb::ListContractsResponse>, Status> {
        respond(self.list(request).await)
    }

    async fn sign_contract(
        &self,
        request: Request<pb::SignContractRequest>,
    ) -> Result<Response<pb::Contract>, Status> {
        respond(self.sign(request).await)
    }

    async fn withdraw_contract(
        &self,
        request: Request<pb::WithdrawContractRequest>,
    ) -> Result<Response<pb::Contract>, Status> {
        respond(self.withdraw(request).await)
    }
}
